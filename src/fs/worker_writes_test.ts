import assert from "node:assert/strict";
import { parseArenaName } from "../types/mod.ts";
import { hashOf } from "../unreal/blob_testing.ts";
import { ERRNO } from "./errno.ts";
import type { WorkerIn } from "./fuse_worker.ts";
import {
  WorkerWriteError,
  WorkerWrites,
  WRITE_SLOT_BYTES,
  WRITE_SLOTS,
  writeBytes,
  writeSlots,
} from "./worker_writes.ts";

type Write = Extract<WorkerIn, { type: "write" }>;

function setUp() {
  const slots = writeSlots();
  const sent: Write[] = [];
  let epoch = 7;
  const writes = new WorkerWrites(slots, (m) => {
    assert.equal(m.type, "write");
    sent.push(m as Write);
  }, () => epoch);
  return { slots, sent, writes, bump: () => epoch++ };
}

Deno.test("WorkerWrites puts bytes in shared slots, then in the message when all are taken", async () => {
  const { slots, sent, writes, bump } = setUp();
  const writer = writes.for(parseArenaName("docs"));
  const hash = hashOf("a");
  const done: Promise<void>[] = [];
  for (let i = 0; i <= WRITE_SLOTS; i++) {
    const data = new Uint8Array(1000).fill(i + 1);
    done.push(writer.write(hash, i * 1000, data));
    data.fill(0); // copied before write() returned
  }
  for (const d of done) d.catch(() => {}); // most are failed by fail() below
  assert.equal(sent.length, WRITE_SLOTS + 1);
  assert.equal(new Set(sent.slice(0, WRITE_SLOTS).map((m) => m.start)).size, WRITE_SLOTS);
  assert.equal(sent[WRITE_SLOTS]!.start, -1, "no slot left: the bytes travel in the message");
  for (const [i, m] of sent.entries()) {
    assert.deepEqual(writeBytes(slots, m), new Uint8Array(1000).fill(i + 1));
    assert.equal(m.hash, hash.toString());
    assert.equal(m.epoch, 7);
  }
  writes.written(sent[0]!.id, 0);
  await done[0];
  bump();
  const unaligned = new Uint8Array(64).fill(9).subarray(3, 13);
  const reused = writer.write(hash, 0, unaligned);
  const again = sent.at(-1)!;
  assert.equal(again.start, sent[0]!.start + 3, "the slot is free again; aligned as the source");
  assert.deepEqual(writeBytes(slots, again), new Uint8Array(10).fill(9));
  assert.equal(again.epoch, 8, "the epoch when sent");
  const big = writer.write(hash, 0, new Uint8Array(WRITE_SLOT_BYTES + 1));
  assert.equal(sent.at(-1)!.start, -1, "larger than a slot: in the message");
  writes.written(sent[1]!.id, ERRNO.ENOSPC);
  await assert.rejects(done[1]!, (e) => e instanceof WorkerWriteError && e.code === "ENOSPC");
  writes.fail(new Error("the FUSE worker stopped"));
  await assert.rejects(big, /stopped/);
  await assert.rejects(reused, /stopped/);
  await assert.rejects(done[2]!, /stopped/);
  await assert.rejects(writer.write(hash, 0, new Uint8Array(1)), /stopped/, "and every later one");
});

Deno.test("WorkerWrites posts bytes already in shared memory as they are, without a slot", async () => {
  const { slots, sent, writes } = setUp();
  const frame = new Uint8Array(new SharedArrayBuffer(4096)).fill(3);
  const done = writes.for(parseArenaName("docs")).write(hashOf("s"), 0, frame.subarray(5, 105));
  const m = sent[0]!;
  assert.equal(m.start, -1, "no slot");
  assert.equal(m.bytes?.buffer, frame.buffer, "the same memory, for the worker to read there");
  assert.deepEqual(writeBytes(slots, m), new Uint8Array(100).fill(3));
  writes.written(m.id, 0);
  await done;
});
