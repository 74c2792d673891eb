# The peer protocol of realize: messages exchanged between two peers over one
# authenticated connection (docs/protocol.md). Each frame of the connection holds one
# Envelope. Requests carry an id chosen by the requester; every message about a request
# (stream items, the final reply, an error) carries the same id, so many requests run at
# once on one connection and replies may come in any order.
#
# TypeScript is generated into src/net/schema/ by tools/gen_schema.sh (capnp-es); the
# generated code is committed and never edited by hand.

@0xd6c9b7e6429d29c1;

struct Envelope {
  id @0 :UInt64;
  union {
    request @1 :Request;
    reply @2 :Reply;
    item @3 :Item;
    # Final answer to a request.
    error @4 :Error;
    # Part of a streamed answer (read data, notification batches).
    cancel @5 :Void;
    # The request failed; nothing it asked for was done.
    ack @6 :UInt64;
    # The requester no longer wants the answer to request `id`.
    # The subscriber applied the notification batch with this sequence number (flow
    # control for subscriptions, and the acknowledgement used to trim history).
  }
}

struct Request {
  union {
    hello @0 :Hello;
    listArenas @1 :Void;
    subscribe @2 :Subscribe;
    read @3 :Read;
    rsync @4 :Rsync;
  }
}

struct Hello {
  version @0 :UInt32;
  # Protocol version spoken by the sender.
  batchRateLimit @1 :UInt64;
  # Bytes per second the sender wants to receive background transfers at (0: no limit).
  software @2 :Text;
  # Software version, for logs.
}

struct Subscribe {
  arena @0 :Text;
  storeId @1 :Text;
  # Where the subscriber stopped last time: the publisher's history id and the last
  # index applied. Empty store id: unknown (full catch-up).
  lastIndex @2 :UInt64;
}

struct Read {
  arena @0 :Text;
  path @1 :Text;
  hash @2 :Data;
  # The version wanted: the read fails with versionUnavailable if the file is another.
  offset @3 :UInt64;
  length @4 :UInt64;
  batch @5 :Bool;
  # Background transfer: subject to the receiver's batch rate limit.
  compress @6 :Bool;
  # The requester accepts zstd-compressed chunks.
}

struct Rsync {
  arena @0 :Text;
  path @1 :Text;
  hash @2 :Data;
  offset @3 :UInt64;
  length @4 :UInt64;
  signature @5 :Data;
  # Signature (src/delta format) of the requester's bytes of that range.
}

struct Reply {
  union {
    hello @0 :Hello;
    arenas @1 :List(Text);
    subscribed @2 :Subscribed;
    readDone @3 :Void;
    # Subscription accepted; batches follow as items.
    delta @4 :Data;
    # All chunks of a read were sent.
    # Delta (src/delta format) from the requester's signature to our range; empty when
    # the range is identical (no data to send).
  }
}

struct Subscribed {
  storeId @0 :Text;
  catchup @1 :Bool;
  # true: a full catch-up follows (catchupStart … catchupComplete), not a replay.
}

struct Item {
  union {
    chunk @0 :Chunk;
    batch @1 :Batch;
  }
}

struct Chunk {
  offset @0 :UInt64;
  data @1 :Data;
  compressed @2 :Bool;
  # data is zstd-compressed; rawLength is its size once decompressed.
  rawLength @3 :UInt32;
}

struct Batch {
  seq @0 :UInt64;
  # Sequence number of the batch in its subscription, acknowledged with `ack`.
  notifications @1 :List(Notification);
}

struct Time {
  secs @0 :UInt64;
  nsecs @1 :UInt32;
}

struct FileVersion {
  path @0 :Text;
  size @1 :UInt64;
  mtime @2 :Time;
  hash @3 :Data;
  # 32-byte BLAKE3 hash; empty while the version is pending (not hashed yet).
}

struct Notification {
  index @0 :UInt64;
  # History index the notification comes from (0 for catch-up entries).
  union {
    add @1 :FileVersion;
    replace @2 :Replaced;
    remove @3 :PathHash;
    drop @4 :PathHash;
    branch @5 :Move;
    rename @6 :Move;
    catchupStart @7 :Void;
    catchup @8 :FileVersion;
    catchupComplete @9 :Void;
    # End of a catch-up; `index` is the history index the catch-up corresponds to.
  }
}

struct Replaced {
  file @0 :FileVersion;
  oldHash @1 :Data;
}

struct PathHash {
  path @0 :Text;
  hash @1 :Data;
}

struct Move {
  path @0 :Text;
  dest @1 :Text;
  hash @2 :Data;
}

struct Error {
  code @0 :ErrorCode;
  message @1 :Text;
}

enum ErrorCode {
  internal @0;
  malformed @1;
  unknownArena @2;
  badPath @3;
  notFound @4;
  versionUnavailable @5;
  tooLarge @6;
  cancelled @7;
  unsupported @8;
  busy @9;
}
