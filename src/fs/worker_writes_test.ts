import assert from "node:assert/strict";
import { parseArenaName } from "../types/mod.ts";
import { hashOf } from "../unreal/blob_testing.ts";
import { ERRNO } from "./errno.ts";
import type { WorkerIn } from "./fuse_worker.ts";
import { WorkerWriteError, WorkerWrites } from "./worker_writes.ts";

type Write = Extract<WorkerIn, { type: "write" }>;

/** Messages as the worker gets them: structured clones, as `postMessage` makes. */
function setUp() {
  const sent: Write[] = [];
  let epoch = 7;
  const writes = new WorkerWrites((m) => {
    assert.equal(m.type, "write");
    sent.push(structuredClone(m) as Write);
  }, () => epoch);
  return { sent, writes, bump: () => epoch++ };
}

Deno.test("WorkerWrites posts each write with its bytes and epoch; answers settle it", async () => {
  const { sent, writes, bump } = setUp();
  const writer = writes.for(parseArenaName("docs"));
  const hash = hashOf("a");
  const done: Promise<void>[] = [];
  for (let i = 0; i < 4; i++) {
    const data = new Uint8Array(1000).fill(i + 1);
    done.push(writer.write(hash, i * 1000, data));
    data.fill(0); // bytes not in shared memory were copied when posted
  }
  for (const d of done) d.catch(() => {}); // most are failed by fail() below
  assert.equal(sent.length, 4);
  for (const [i, m] of sent.entries()) {
    assert.deepEqual(m.bytes, new Uint8Array(1000).fill(i + 1));
    assert.equal(m.offset, i * 1000);
    assert.equal(m.hash, hash.toString());
    assert.equal(m.arena, "docs");
    assert.equal(m.epoch, 7);
  }
  assert.equal(new Set(sent.map((m) => m.id)).size, 4, "one id per write");
  writes.written(sent[0]!.id, 0);
  await done[0];
  bump();
  const later = writer.write(hash, 0, new Uint8Array(10).fill(9));
  assert.equal(sent.at(-1)!.epoch, 8, "the epoch when sent");
  writes.written(sent[1]!.id, ERRNO.ENOSPC);
  await assert.rejects(done[1]!, (e) => e instanceof WorkerWriteError && e.code === "ENOSPC");
  writes.fail(new Error("the FUSE worker stopped"));
  await assert.rejects(later, /stopped/);
  await assert.rejects(done[2]!, /stopped/);
  await assert.rejects(writer.write(hash, 0, new Uint8Array(1)), /stopped/, "and every later one");
});

Deno.test("WorkerWrites posts bytes in shared memory without copying them", async () => {
  const { sent, writes } = setUp();
  const frame = new Uint8Array(new SharedArrayBuffer(4096)).fill(3);
  const done = writes.for(parseArenaName("docs")).write(hashOf("s"), 0, frame.subarray(5, 105));
  const m = sent[0]!;
  assert.deepEqual(m.bytes, new Uint8Array(100).fill(3));
  frame[5] = 4; // the caller keeps the bytes unchanged until the write settles; this shows why
  assert.equal(m.bytes[0], 4, "the same memory, for the worker to read there");
  writes.written(m.id, 0);
  await done;
});
