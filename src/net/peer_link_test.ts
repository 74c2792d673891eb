// Two in-process peers over in-memory channels: subscriptions, catch-up, resume, reads,
// rsync and local effects. The same code runs over TLS in tests/peers_test.ts.
// deno-lint-ignore-file no-sync-fn-in-async-fn
import assert from "node:assert/strict";
import { getFile, historyAfter, trimHistory } from "../real/mod.ts";
import { getDecision, setMark } from "../storage/mod.ts";
import { Hash, paths } from "../types/mod.ts";
import { defaultVersion, peerFiles } from "../unreal/mod.ts";
import { DOCS, TestPeer, until } from "./_peer_testing.ts";
import { PeerError } from "./messages.ts";

const enc = new TextEncoder();
const h = (s: string) => Hash.of(enc.encode(s));
const p = paths.parse;

function shown(peer: TestPeer, path: string): string | null {
  const d = peer.db.read((tx) => defaultVersion(tx, p(path)));
  if (d === null) return null;
  return d.hash === null ? "pending" : d.hash.toString();
}

/** `b` catches up with `a` until it shows `path` with `content`, then they part. */
async function syncOnce(b: TestPeer, a: TestPeer, path: string, content: string): Promise<void> {
  await a.settled();
  const first = await b.connect(a);
  await until(() => shown(b, path) === h(content).toString(), "first sync");
  await first.close();
}

/** Forgets what `b` applied, connects it to `a` again and runs `check` while connected. */
async function reconnected(b: TestPeer, a: TestPeer, check: () => Promise<void>): Promise<void> {
  b.applied.length = 0;
  const link = await b.connect(a);
  try {
    await check();
  } finally {
    await link.close();
  }
}

Deno.test("a new peer catches up with every file, then follows live changes", async () => {
  await using a = await TestPeer.start("a", { files: { "x.txt": "x", "d/y.txt": "yy" } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const link = await b.connect(a);
  try {
    await until(() => shown(b, "d/y.txt") === h("yy").toString(), "catch-up");
    assert.equal(shown(b, "x.txt"), h("x").toString());
    assert.ok(b.applied.some((x) => x.catchup), "it was a catch-up");
    a.write("new.txt", "fresh");
    await until(() => shown(b, "new.txt") === h("fresh").toString(), "live add");
    a.write("x.txt", "x version 2");
    await until(() => shown(b, "x.txt") === h("x version 2").toString(), "live replace");
    Deno.removeSync(`${a.datadir}/d/y.txt`);
    await until(() => shown(b, "d/y.txt") === null, "live remove");
  } finally {
    await link.close();
  }
});

Deno.test("a reconnecting peer resumes where it stopped, without a catch-up", async () => {
  await using a = await TestPeer.start("a", { files: { "one": "1" } });
  await using b = await TestPeer.start("b", { local: false });
  await syncOnce(b, a, "one", "1");
  a.write("two", "2");
  await a.settled();
  await reconnected(b, a, async () => {
    await until(() => shown(b, "two") === h("2").toString(), "resume");
    assert.ok(b.applied.every((x) => !x.catchup), "resumed from the saved position");
  });
});

Deno.test("a peer whose position was trimmed away gets a full catch-up; removals show", async () => {
  await using a = await TestPeer.start("a", { files: { "keep": "k", "gone": "g" } });
  await using b = await TestPeer.start("b", { local: false });
  await syncOnce(b, a, "gone", "g");
  // A long disconnection: a changes on, and trims b's part of the history away.
  Deno.removeSync(`${a.datadir}/gone`);
  a.write("later", "l");
  await until(
    () =>
      a.db.read((tx) =>
        getFile(tx, p("gone")) === null && (getFile(tx, p("later"))?.hash ?? null) !== null
      ),
    "a indexed the changes",
  );
  const trimmed = a.db.write((tx) =>
    trimHistory(tx, [b.name], { maxEntries: 0, maxAgeMs: 3_600_000 })
  );
  assert.deepEqual(trimmed.lagging, [b.name]);
  assert.ok(trimmed.deleted > 0, "entries were trimmed");
  await reconnected(b, a, async () => {
    await until(() => shown(b, "later") === h("l").toString(), "catch-up adds");
    await until(() => shown(b, "gone") === null, "catch-up removes");
    assert.equal(shown(b, "keep"), h("k").toString());
    assert.ok(b.applied.some((x) => x.catchup), "a full catch-up, not a replay");
  });
});

Deno.test("a peer restarting with a new database is caught up in full", async () => {
  await using a = await TestPeer.start("a", { files: { "keep": "k", "gone": "g" } });
  await using b = await TestPeer.start("b", { local: false });
  await syncOnce(b, a, "gone", "g");
  // a loses its database (a new store id, history from 1) and a file while it is down.
  await a.close();
  for (const f of Deno.readDirSync(`${a.dir}/work`)) {
    if (f.name.startsWith("arena.db")) Deno.removeSync(`${a.dir}/work/${f.name}`);
  }
  Deno.removeSync(`${a.datadir}/gone`);
  await a.open();
  await a.settled();
  await reconnected(b, a, async () => {
    await until(() => b.applied.some((x) => x.catchup), "a full catch-up");
    await until(() => shown(b, "gone") === null, "the lost file is removed");
    assert.equal(shown(b, "keep"), h("k").toString());
  });
});

Deno.test("a connection cut mid-read fails the read at once; a new one reads it all", async () => {
  const text = varied(3 << 20, 11); // three chunks
  await using a = await TestPeer.start("a", { files: { "big.txt": text } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const first = await b.connect(a);
  await until(() => shown(b, "big.txt") === h(text).toString(), "announced");
  const target = { arena: DOCS, path: p("big.txt"), hash: h(text) };
  const range = { offset: 0, length: text.length };
  const got = new Uint8Array(text.length);
  let received = 0;
  const cut = first.mine.read(target, range, async (offset, bytes) => {
    got.set(bytes, offset);
    received += bytes.length;
    if (received === bytes.length) await first.close(); // after the first piece
  });
  await assert.rejects(cut);
  assert.ok(received < text.length, `the read stopped (${received} bytes)`);
  const source = new TextEncoder().encode(text);
  assert.deepEqual(got.subarray(0, received), source.subarray(0, received));
  const second = await b.connect(a);
  try {
    const again = await readCopying(
      (onChunk) => second.mine.read(target, range, onChunk),
      0,
      text.length,
    );
    assert.equal(again.text, text);
  } finally {
    await second.close();
  }
});

Deno.test("read() streams a byte range of a peer's file, compressed or not", async () => {
  const text = "0123456789".repeat(100_000); // 1 MB, compressible
  await using a = await TestPeer.start("a", { files: { "big.txt": text } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const link = await b.connect(a);
  try {
    await until(() => shown(b, "big.txt") === h(text).toString(), "announced");
    for (const compress of [false, true]) {
      const got = new Uint8Array(600_000);
      await link.mine.read({ arena: DOCS, path: p("big.txt"), hash: h(text) }, {
        offset: 300_000,
        length: 600_000,
      }, (offset, bytes) => {
        got.set(bytes, offset - 300_000);
      }, { compress });
      assert.equal(new TextDecoder().decode(got), text.slice(300_000, 900_000));
    }
  } finally {
    await link.close();
  }
});

/** Text of `size` characters that never repeats with a short period. */
function varied(size: number, seed: number): string {
  let x = seed;
  return Array.from({ length: size }, () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return String.fromCharCode(97 + ((x >>> 16) % 26));
  }).join("");
}

/** Reads `[offset, offset + length)` of `path` through `read`, copying each lent chunk late. */
async function readCopying(
  read: (
    onChunk: (offset: number, bytes: Uint8Array) => Promise<void>,
  ) => Promise<void>,
  offset: number,
  length: number,
): Promise<{ text: string; lent: Uint8Array[] }> {
  const got = new Uint8Array(length);
  const lent: Uint8Array[] = [];
  await read(async (at, bytes) => {
    lent.push(bytes);
    await new Promise((r) => setTimeout(r, 1)); // lent until the promise settles
    got.set(bytes, at - offset);
  });
  return { text: new TextDecoder().decode(got), lent };
}

Deno.test("read() lends each chunk until its callback settles; copies are intact", async () => {
  const text = varied(3_500_000, 7); // four chunks
  await using a = await TestPeer.start("a", { files: { "big.txt": text } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const link = await b.connect(a);
  try {
    await until(() => shown(b, "big.txt") === h(text).toString(), "announced");
    const target = { arena: DOCS, path: p("big.txt"), hash: h(text) };
    const range = { offset: 1000, length: 3_400_000 };
    const { text: got, lent } = await readCopying(
      (onChunk) => link.mine.read(target, range, onChunk),
      range.offset,
      range.length,
    );
    assert.equal(got, text.slice(1000, 3_401_000));
    assert.equal(lent.length, 4);
    // The in-memory channel overwrites what is handed back: the chunks were lent, not given.
    assert.ok(lent.every((bytes) => bytes.every((x) => x === 0xee)), "released after use");
    for (const options of [{ compress: true }, { batch: true }, { compress: true, batch: true }]) {
      const again = await readCopying(
        (onChunk) => link.mine.read(target, range, onChunk, options),
        range.offset,
        range.length,
      );
      assert.equal(again.text, text.slice(1000, 3_401_000), JSON.stringify(options));
    }
  } finally {
    await link.close();
  }
});

Deno.test("household.read() over TLS delivers every byte of a multi-chunk range", async () => {
  const text = varied(5_000_000, 11);
  await using a = await TestPeer.start("a", { files: { "big.txt": text } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const ha = await a.join([b.asPeer()]);
  await b.join([a.asPeer({ port: ha.port })], { listen: null });
  await until(() => shown(b, "big.txt") === h(text).toString(), "announced");
  const target = { arena: DOCS, path: p("big.txt"), hash: h(text) };
  const reads = [[0, 5_000_000], [123, 2_100_000], [4_000_000, 1_000_000]] as const;
  const results = await Promise.all(reads.map(([offset, length]) =>
    readCopying(
      (onChunk) => b.household!.read(target, { offset, length }, onChunk),
      offset,
      length,
    )
  ));
  for (const [i, [offset, length]] of reads.entries()) {
    assert.equal(results[i]!.text, text.slice(offset, offset + length), `read ${i}`);
  }
});

Deno.test("read() of a version the peer does not have fails with versionUnavailable", async () => {
  await using a = await TestPeer.start("a", { files: { "f": "current" } });
  await using b = await TestPeer.start("b", { local: false });
  await a.settled();
  const link = await b.connect(a);
  try {
    await assert.rejects(
      link.mine.read(
        { arena: DOCS, path: p("f"), hash: h("old") },
        { offset: 0, length: 10 },
        () => {},
      ),
      (e) => e instanceof PeerError && e.code === "versionUnavailable",
    );
    await assert.rejects(
      link.mine.read(
        { arena: DOCS, path: p("missing"), hash: h("x") },
        { offset: 0, length: 1 },
        () => {},
      ),
      (e) => e instanceof PeerError && e.code === "notFound",
    );
  } finally {
    await link.close();
  }
});

Deno.test("a peer's edit drops our unmodified local copy of the version it replaced", async () => {
  await using a = await TestPeer.start("a", { files: { "shared.txt": "v1", "keep.txt": "k" } });
  await using b = await TestPeer.start("b", { files: { "shared.txt": "v1", "keep.txt": "k" } });
  await a.settled();
  await b.settled();
  const link = await b.connect(a);
  try {
    await until(() => b.db.read((tx) => peerFiles(tx, p("shared.txt"))).length === 1, "synced");
    a.write("shared.txt", "v2 from a");
    await until(() => shown(b, "shared.txt") === h("v2 from a").toString(), "replace applied");
    await until(
      () => b.db.read((tx) => getFile(tx, p("shared.txt"))) === null,
      "local copy dropped",
    );
    // The index forgets the copy first, then the file moves to the trash.
    await until(
      async () => await Deno.stat(`${b.datadir}/shared.txt`).then(() => false, () => true),
      "local file removed",
    );
    const drops = b.db.read((tx) => historyAfter(tx, 0, 100)).filter((e) => e.kind === "drop");
    assert.deepEqual(drops.map((e) => e.path), ["shared.txt"]);
    assert.notEqual(b.db.read((tx) => getFile(tx, p("keep.txt"))), null, "others untouched");
  } finally {
    await link.close();
  }
});

Deno.test("outdated local copies: a removal deletes ours; own keeps it with a realize decision; a modified one is untouched", async () => {
  const files = { "gone.txt": "g", "owned.txt": "o1", "mine.txt": "m1" };
  await using a = await TestPeer.start("a", { files });
  await using b = await TestPeer.start("b", { files });
  await a.settled();
  b.db.write((tx) => setMark(tx, p("owned.txt"), "own"));
  b.write("mine.txt", "m1, edited by b");
  await b.settled();
  const link = await b.connect(a);
  try {
    await until(() => b.db.read((tx) => peerFiles(tx, p("gone.txt"))).length === 1, "synced");
    await Deno.remove(`${a.datadir}/gone.txt`);
    a.write("owned.txt", "o2 by a");
    a.write("mine.txt", "m2 by a");
    await until(
      async () => await Deno.stat(`${b.datadir}/gone.txt`).then(() => false, () => true),
      "the removal deletes b's unmodified copy",
    );
    await until(
      () => b.db.read((tx) => getDecision(tx, p("owned.txt"))) === "realize",
      "own: a realize decision for the new version",
    );
    await until(() => shown(b, "mine.txt") === h("m2 by a").toString(), "a's edit applied");
    await b.settled();
    assert.equal(await Deno.readTextFile(`${b.datadir}/owned.txt`), "o1", "own: the copy stays");
    assert.equal(await Deno.readTextFile(`${b.datadir}/mine.txt`), "m1, edited by b");
  } finally {
    await link.close();
  }
});
