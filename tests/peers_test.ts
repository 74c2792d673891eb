// Peers over real TLS on loopback: households that keep each other's remote trees
// current, read each other's files, reconnect and resume, and throttle background data.
import assert from "node:assert/strict";
import { DOCS, TestPeer, until } from "../src/net/_peer_testing.ts";
import { PeerError } from "../src/net/mod.ts";
import { Hash, paths } from "../src/types/mod.ts";
import { defaultVersion, peerFiles } from "../src/unreal/mod.ts";

const enc = new TextEncoder();
const h = (s: string) => Hash.of(enc.encode(s));
const p = paths.parse;

function shown(peer: TestPeer, path: string): string | null {
  const d = peer.db.read((tx) => defaultVersion(tx, p(path)));
  return d === null ? null : d.hash === null ? "pending" : d.hash.toString();
}

Deno.test("two peers over TLS keep each other's trees current and read each other's files", async () => {
  await using a = await TestPeer.start("a", { files: { "a.txt": "from a" } });
  await using b = await TestPeer.start("b", { files: { "b.txt": "from b" } });
  await a.settled();
  await b.settled();
  const ha = await a.join([b.asPeer()]);
  await b.join([a.asPeer({ port: ha.port })], { listen: null }); // b dials a
  await until(() => shown(b, "a.txt") === h("from a").toString(), "b sees a's file");
  await until(() => shown(a, "b.txt") === h("from b").toString(), "a sees b's file (same link)");
  a.write("later.txt", "later");
  await until(() => shown(b, "later.txt") === h("later").toString(), "a live change reaches b");
  const got: Uint8Array[] = [];
  await b.household!.read({ arena: DOCS, path: p("a.txt"), hash: h("from a") }, {
    offset: 0,
    length: 100,
  }, (_o, bytes) => {
    got.push(bytes.slice());
  });
  assert.equal(new TextDecoder().decode(got[0]), "from a");
  const state = b.household!.peers();
  assert.equal(state[0]?.connected, true);
  assert.equal(state[0]?.direction, "outgoing");
  assert.deepEqual(state[0]?.arenas, ["docs"]);
});

Deno.test("a peer that restarts is redialled, and the subscription resumes", async () => {
  await using a = await TestPeer.start("a", { files: { "one": "1" } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const ha = await a.join([b.asPeer()]);
  const port = ha.port!;
  await b.join([a.asPeer({ port })], { listen: null });
  await until(() => shown(b, "one") === h("1").toString(), "first sync");
  await a.leave();
  await until(() => !b.household!.peers()[0]!.connected, "b notices a is gone");
  a.write("two", "2");
  await a.settled();
  b.applied.length = 0;
  await a.join([b.asPeer()], { listen: port });
  await until(() => shown(b, "two") === h("2").toString(), "b redials and resumes");
  assert.ok(b.applied.length > 0 && b.applied.every((x) => !x.catchup), "no catch-up needed");
});

Deno.test("three peers in a full mesh see every peer's files, and each read finds an owner", async () => {
  await using a = await TestPeer.start("a", { files: { "a": "aaa" } });
  await using b = await TestPeer.start("b", { files: { "b": "bbb" } });
  await using c = await TestPeer.start("c", { local: false });
  await a.settled();
  await b.settled();
  const ha = await a.join([b.asPeer(), c.asPeer()]);
  const hb = await b.join([a.asPeer({ port: ha.port }), c.asPeer()]);
  await c.join([a.asPeer({ port: ha.port }), b.asPeer({ port: hb.port })], { listen: null });
  for (const [peer, path] of [[c, "a"], [c, "b"], [b, "a"], [a, "b"]] as const) {
    await until(
      () => shown(peer, path) !== null && shown(peer, path) !== "pending",
      `${peer.name} sees ${path}`,
    );
  }
  const owners = c.db.read((tx) => peerFiles(tx, p("a"))).map((f) => f.peer);
  assert.deepEqual(owners, ["a"]);
  let text = "";
  await c.household!.read(
    { arena: DOCS, path: p("b"), hash: h("bbb") },
    { offset: 0, length: 3 },
    (_o, bytes) => {
      text += new TextDecoder().decode(bytes);
    },
  );
  assert.equal(text, "bbb");
  await assert.rejects(
    c.household!.read({ arena: DOCS, path: p("a"), hash: h("other version") }, {
      offset: 0,
      length: 3,
    }, () => {}),
    (e) => e instanceof PeerError && e.code === "versionUnavailable",
  );
});

Deno.test("an edit through b's overlay replaces a's version, on c too", async () => {
  await using a = await TestPeer.start("a", { files: { "notes": "v1", "report": "r1" } });
  await using b = await TestPeer.start("b", { overlay: true });
  await using c = await TestPeer.start("c", { local: false });
  await a.settled();
  const ha = await a.join([b.asPeer(), c.asPeer()]);
  const hb = await b.join([a.asPeer({ port: ha.port }), c.asPeer()]);
  await c.join([a.asPeer({ port: ha.port }), b.asPeer({ port: hb.port })], { listen: null });
  for (const peer of [b, c]) {
    await until(() => shown(peer, "notes") === h("v1").toString(), `${peer.name} sees a's notes`);
  }
  // What the overlay leaves in b's datadir when notes is edited through it.
  b.write("notes", "v2 by b");
  await until(() => shown(c, "notes") === h("v2 by b").toString(), "c shows b's edit");
  await until(() => shown(a, "notes") === h("v2 by b").toString(), "a's view of the others");
  // An editor saving through a new file, hashed before it is renamed over the remote one.
  await until(() => shown(c, "report") === h("r1").toString(), "c sees a's report");
  b.write(".report.tmp", "r2 by b");
  await until(() => shown(c, ".report.tmp") === h("r2 by b").toString(), "b hashed it");
  await Deno.rename(`${b.datadir}/.report.tmp`, `${b.datadir}/report`);
  await until(() => shown(c, "report") === h("r2 by b").toString(), "c shows b's saved report");
});

Deno.test("background reads honour the peer's batch_rate_limit; interactive reads do not", async () => {
  const data = "x".repeat(768 * 1024);
  await using a = await TestPeer.start("a", { files: { "big": data } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const ha = await a.join([b.asPeer()]);
  // b asks a to send it background data at 512 KiB/s at most.
  await b.join([a.asPeer({ port: ha.port, batchRateLimit: 512 * 1024 })], { listen: null });
  await until(() => shown(b, "big") === h(data).toString(), "announced");
  const target = { arena: DOCS, path: p("big"), hash: h(data) };
  const range = { offset: 0, length: data.length };
  let n = 0;
  const started = performance.now();
  await b.household!.read(target, range, (_o, bytes) => void (n += bytes.length), { batch: true });
  const batchMs = performance.now() - started;
  assert.equal(n, data.length);
  // 768 KiB at 512 KiB/s cannot take less than ~1.5 s (the bucket starts empty).
  assert.ok(batchMs >= 1200, `throttled: ${batchMs} ms`);
  n = 0;
  await b.household!.read(target, range, (_o, bytes) => void (n += bytes.length), { batch: false });
  assert.equal(n, data.length);
});
