import assert from "node:assert/strict";
import {
  captureLogs,
  pattern,
  rejection,
  type TestPeer,
  testPeer,
  testProxy,
  testServer,
  waitFor,
} from "./_testing.ts";
import { connect } from "./connect.ts";
import { type Connection, POOLED_FRAME_BYTES } from "./connection.ts";
import { ConnectionClosedError, ProtocolError } from "./errors.ts";
import { pinnedTlsOptions } from "./certs.ts";
import { ByteReader, FRAME_BYTES_MAX, FrameKind, newTraffic, writeAll } from "./framing.ts";
import { clientHandshake } from "./handshake.ts";

async function pair(options: { heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number } = {}) {
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  const srv = await testServer(server, [client], { connection: options });
  const address = { host: "127.0.0.1", port: srv.port };
  const out = await connect(server.identity, address, { keys: client.keys, connection: options });
  const inc = await srv.nth(1);
  return {
    out,
    inc,
    async [Symbol.asyncDispose]() {
      await out.close();
      await srv[Symbol.asyncDispose]();
    },
  };
}

async function collect(conn: Connection, n: number): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const f of conn.frames()) {
    frames.push(f);
    if (frames.length === n) break;
  }
  return frames;
}

Deno.test("Connection keeps frames whole and in order under concurrent sends", async () => {
  using _logs = captureLogs();
  await using p = await pair();
  const sizes = [0, 1, 5, 100, 65_531, 65_536, 70_000, 1 << 20, 3];
  const sends = [];
  for (let round = 0; round < 20; round++) {
    for (const [i, size] of sizes.entries()) sends.push(p.out.send(pattern(size, round * 16 + i)));
  }
  const got = await collect(p.inc, sends.length);
  await Promise.all(sends);
  let k = 0;
  for (let round = 0; round < 20; round++) {
    for (const [i, size] of sizes.entries()) {
      assert.deepEqual(got[k++], pattern(size, round * 16 + i), `frame ${k}`);
    }
  }
  assert.equal(p.out.bytesSent, p.inc.bytesReceived);
});

Deno.test("Connection reuses a released frame's buffer, and frames with tails arrive whole", async () => {
  using _logs = captureLogs();
  await using p = await pair();
  const size = 1 << 20;
  const frames = p.inc.frames();
  const buffers = new Set<ArrayBufferLike>();
  for (let k = 0; k < 4; k++) {
    const sent = p.out.send(pattern(64, k), pattern(size, k + 10)); // a head and a chunk
    const { value: frame } = await frames.next();
    await sent;
    const want = new Uint8Array(64 + size);
    want.set(pattern(64, k));
    want.set(pattern(size, k + 10), 64);
    assert.ok(frame !== undefined);
    assert.deepEqual(frame, want, `frame ${k}`);
    assert.equal(frame.buffer.byteLength, POOLED_FRAME_BYTES, "read into a pooled buffer");
    buffers.add(frame.buffer);
    p.inc.release(frame);
  }
  await frames.return();
  assert.equal(buffers.size, 1, "each frame reused the buffer the previous one gave back");
});

Deno.test("Connection.send() refuses a frame over FRAME_BYTES_MAX without sending", async () => {
  using _logs = captureLogs();
  await using p = await pair();
  const error = await rejection(p.out.send(new Uint8Array(FRAME_BYTES_MAX + 1)));
  assert.ok(error instanceof RangeError);
  await p.out.send(new Uint8Array(FRAME_BYTES_MAX)); // the limit itself is fine
  assert.equal((await collect(p.inc, 1))[0]!.length, FRAME_BYTES_MAX);
});

Deno.test("Connection.close() tells the peer why, and later sends fail", async () => {
  using _logs = captureLogs();
  await using p = await pair();
  await p.out.send(pattern(10));
  const end = await p.out.close("going to sleep");
  assert.deepEqual(end, { by: "local", reason: "going to sleep", error: null });
  assert.deepEqual(await p.inc.closed, { by: "remote", reason: "going to sleep", error: null });
  assert.deepEqual(await collect(p.inc, 5), [pattern(10)]); // received before the close
  assert.ok(await rejection(p.out.send(pattern(1))) instanceof ConnectionClosedError);
  assert.ok(await rejection(p.inc.send(pattern(1))) instanceof ConnectionClosedError);
});

/** Authenticates by hand, then returns the raw TLS stream to misbehave on. */
async function rawClient(port: number, server: TestPeer, client: TestPeer): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const tls = await Deno.startTls(tcp, await pinnedTlsOptions(server.identity.pubkey.raw));
  const traffic = newTraffic();
  await clientHandshake(
    { reader: new ByteReader(tls, traffic), sink: tls, traffic },
    client.keys,
    server.identity,
  );
  return tls;
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      chunks.push(...buf.subarray(0, n));
    }
  } catch {
    // reset
  }
  return Uint8Array.from(chunks);
}

Deno.test("Connection closes on an oversized frame length without allocating it", async () => {
  using logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  await using srv = await testServer(server, [client]);
  const tls = await rawClient(srv.port, server, client);
  const inc = await srv.nth(1);
  await writeAll(tls, Uint8Array.of(0xff, 0xff, 0xff, 0xff, FrameKind.data), newTraffic());
  const end = await inc.closed;
  assert.equal(end.by, "error");
  assert.ok(end.error instanceof ProtocolError);
  const limit = "Frame of 4294967295 bytes exceeds the limit of 16777216 bytes";
  assert.equal(end.reason, limit);
  const said = await readAll(tls); // the goodbye frame carries the reason
  tls.close();
  assert.equal(said[4], FrameKind.close);
  assert.equal(new TextDecoder().decode(said.subarray(5)), limit);
  const net = logs.of("net").filter((l) => l.includes("failed"));
  assert.deepEqual(net, [`WARN net: connection with ${inc} failed: ${limit}`]);
});

Deno.test("Connection closes on an unknown frame kind", async () => {
  using _logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  await using srv = await testServer(server, [client]);
  const tls = await rawClient(srv.port, server, client);
  const inc = await srv.nth(1);
  await writeAll(tls, Uint8Array.of(0, 0, 0, 0, 9), newTraffic());
  const end = await inc.closed;
  assert.equal(end.reason, "Unknown frame kind 9");
  await readAll(tls);
  tls.close();
});

Deno.test("Connection heartbeat keeps an idle link open and detects a silent one", async () => {
  using logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  // Roomy enough for a machine loaded by tests running in parallel.
  const heartbeat = { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 800 };
  await using srv = await testServer(server, [client], { connection: heartbeat });
  await using proxy = testProxy(srv.port);
  const address = { host: "127.0.0.1", port: proxy.port };
  await using out = await connect(server.identity, address, {
    keys: client.keys,
    connection: heartbeat,
  });
  const inc = await srv.nth(1);
  // Idle but alive: pings flow both ways for several timeouts.
  const pings = out.bytesReceived;
  await waitFor(() => out.bytesReceived >= pings + 5 * 20, "pings from the server");
  assert.equal(out.end, null);
  assert.equal(inc.end, null);
  proxy.stall();
  const [a, b] = await Promise.all([out.closed, inc.closed]);
  for (const end of [a, b]) {
    assert.equal(end.by, "error");
    assert.ok(end.error instanceof Deno.errors.TimedOut);
    assert.match(
      end.reason,
      /^No data from (server|laptop) for \d+ ms \(heartbeat timeout 800 ms\)$/,
    );
  }
  assert.equal(logs.of("net").filter((l) => l.includes("heartbeat timeout")).length, 2);
});

Deno.test("Connection stops reading while its consumer lags, and loses nothing", async () => {
  using _logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  const options = {
    receiveQueueBytesMax: 1 << 20,
    // Short enough that the stall below outlasts it, long enough that a loaded machine
    // (tests run in parallel) does not starve the heartbeat past it.
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 800,
  };
  await using srv = await testServer(server, [client], { connection: options });
  const address = { host: "127.0.0.1", port: srv.port };
  await using out = await connect(server.identity, address, {
    keys: client.keys,
    connection: options,
  });
  const inc = await srv.nth(1);
  const frame = 1 << 20;
  const count = 64;
  let written = 0;
  const sending = (async () => {
    for (let i = 0; i < count; i++) {
      await out.send(pattern(frame, i));
      written++;
    }
  })();
  // The receiver does not consume: the sender stalls once the queue and the socket buffers
  // are full, far short of 64 MiB; the heartbeat does not mistake this for a dead peer.
  let last = -1;
  let since = performance.now();
  await waitFor(() => {
    if (written !== last) [last, since] = [written, performance.now()];
    return performance.now() - since >= 1.5 * options.heartbeatTimeoutMs; // no progress
  }, "the sender to stall");
  assert.ok(written < count / 2, `wrote ${written} frames`);
  assert.ok(inc.bytesReceived < 32 * frame, `received ${inc.bytesReceived} bytes`);
  assert.equal(inc.end, null);
  assert.equal(out.end, null);
  const got = await collect(inc, count);
  await sending;
  for (let i = 0; i < count; i++) assert.deepEqual(got[i], pattern(frame, i), `frame ${i}`);
});
