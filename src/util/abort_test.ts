import assert from "node:assert/strict";
import { abortable } from "./abort.ts";

Deno.test("abortable() resolves with the promise when the signal stays quiet", async () => {
  const c = new AbortController();
  assert.equal(await abortable(Promise.resolve(7), c.signal), 7);
  assert.equal(await abortable(Promise.resolve(8), undefined), 8);
});

Deno.test("abortable() rejects with the reason when the signal aborts first", async () => {
  const c = new AbortController();
  const never = new Promise<void>(() => {});
  const waiting = abortable(never, c.signal);
  c.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
});

Deno.test("abortable() rejects at once on a signal that has already aborted", async () => {
  await assert.rejects(
    abortable(new Promise(() => {}), AbortSignal.abort(new Error("early"))),
    /early/,
  );
});

Deno.test("abortable() passes the promise's own rejection through", async () => {
  const c = new AbortController();
  await assert.rejects(abortable(Promise.reject(new Error("own")), c.signal), /own/);
});
