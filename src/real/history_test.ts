import assert from "node:assert/strict";
import { Database, type WriteTx } from "../storage/mod.ts";
import { Hash, parsePeerName, type Path, paths, UnixTime } from "../types/mod.ts";
import { recordFile, recordHash, recordRemoved, recordRenamed } from "./changes.ts";
import {
  ackHistory,
  appendHistory,
  canResume,
  firstIndex,
  historyAfter,
  lastIndex,
  storeId,
  translate,
  trimHistory,
  waitForHistory,
} from "./history.ts";
import { type FileVersion, putFile } from "./index.ts";
import { REAL_SCHEMAS } from "./mod.ts";

const A = parsePeerName("a");
const B = parsePeerName("b");

/** A history in memory, with helpers to make files. */
class Fixture {
  readonly db = Database.memory({ schemas: REAL_SCHEMAS });
  #ino = 1;

  static setup(): Fixture {
    return new Fixture();
  }

  version(size: number): FileVersion {
    return { size, mtime: UnixTime.of(1_700_000_000, size), dev: 1, ino: this.#ino++ };
  }

  /** Indexes a file with a hash, as seen then hashed. */
  file(tx: WriteTx, p: string, content: string): FileVersion {
    const v = this.version(content.length);
    recordFile(tx, paths.parse(p), v);
    recordHash(tx, paths.parse(p), v, Hash.of(new TextEncoder().encode(content)));
    return v;
  }

  kinds(after = 0): string[] {
    return this.db.read((tx) => historyAfter(tx, after, 1000)).map((e) => `${e.kind} ${e.path}`);
  }

  told(after = 0): string[] {
    return this.db.read((tx) =>
      historyAfter(tx, after, 1000).flatMap((e) => translate(tx, e)).map((n) => {
        const hash = "hash" in n ? (n.hash === null ? " pending" : " hashed") : "";
        return `${n.kind} ${n.path}${"dest" in n ? ` -> ${n.dest}` : ""}${hash}`;
      })
    );
  }

  [Symbol.dispose](): void {
    this.db.close();
  }
}

const p = (s: string): Path => paths.parse(s);

Deno.test("appendHistory() numbers entries 1, 2, 3 and never reuses an index after a trim", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    assert.equal(appendHistory(tx, { kind: "add", path: p("a") }), 1);
    assert.equal(appendHistory(tx, { kind: "add", path: p("b") }), 2);
  });
  f.db.write((tx) => trimHistory(tx, []));
  assert.equal(f.db.read((tx) => firstIndex(tx)), 3);
  f.db.write((tx) => assert.equal(appendHistory(tx, { kind: "add", path: p("c") }), 3));
  assert.equal(f.db.read((tx) => lastIndex(tx)), 3);
});

Deno.test("a rolled-back entry takes no index and wakes no reader", async () => {
  using f = Fixture.setup();
  let woke = false;
  const ac = new AbortController();
  const waiting = waitForHistory(f.db, 0, { signal: ac.signal }).then(() => woke = true, () => {});
  assert.throws(() =>
    f.db.write((tx) => {
      appendHistory(tx, { kind: "add", path: p("a") });
      throw new Error("crash before commit");
    })
  );
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(woke, false);
  assert.equal(f.db.read((tx) => lastIndex(tx)), 0);
  f.db.write((tx) => appendHistory(tx, { kind: "add", path: p("b") }));
  await waiting;
  assert.equal(woke, true);
  ac.abort();
});

Deno.test("translate() reports the current state: a file added then deleted is not announced", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    f.file(tx, "gone", "x");
    f.file(tx, "kept", "y");
    recordRemoved(tx, p("gone"));
  });
  assert.deepEqual(f.kinds(), ["add gone", "add gone", "add kept", "add kept", "remove gone"]);
  assert.deepEqual(f.told(), ["add kept hashed", "add kept hashed", "remove gone"]);
});

Deno.test("translate() announces a replaced file with its current, possibly pending, version", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    f.file(tx, "doc", "v1");
    const v2 = f.version(5);
    recordFile(tx, p("doc"), v2);
    recordHash(tx, p("doc"), v2, Hash.of(new TextEncoder().encode("v2 ok")));
    recordFile(tx, p("doc"), f.version(9)); // changed again, not hashed yet
  });
  assert.deepEqual(f.kinds(), ["add doc", "add doc", "replace doc"]);
  assert.deepEqual(f.told(), ["add doc pending", "add doc pending", "replace doc pending"]);
});

Deno.test("translate() turns a rename into remove + add when the files changed since", () => {
  using f = Fixture.setup();
  let v!: FileVersion;
  f.db.write((tx) => {
    v = f.file(tx, "from", "content");
    recordRenamed(tx, p("from"), p("to"), v);
  });
  assert.deepEqual(f.told(2), ["rename from -> to hashed"]);
  f.db.write((tx) => recordRemoved(tx, p("to")));
  assert.deepEqual(f.told(2), ["remove from", "remove to"]);
});

Deno.test("recordHash() drops a hash for a version that changed meanwhile", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    const v1 = f.version(3);
    recordFile(tx, p("x"), v1);
    recordFile(tx, p("x"), f.version(4));
    assert.equal(recordHash(tx, p("x"), v1, Hash.of(new Uint8Array(3))), false);
  });
  assert.deepEqual(f.told(), ["add x pending"]);
});

Deno.test("recordFile() writes nothing for a file seen again unchanged", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    const v = f.file(tx, "same", "s");
    assert.equal(recordFile(tx, p("same"), v), "same");
  });
  assert.deepEqual(f.kinds(), ["add same", "add same"]);
});

Deno.test("the store id is stable for a database and differs between databases", () => {
  using f = Fixture.setup();
  using g = Fixture.setup();
  const id = f.db.read((tx) => storeId(tx));
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(f.db.read((tx) => storeId(tx)), id);
  assert.notEqual(g.db.read((tx) => storeId(tx)), id);
});

Deno.test("trimHistory() keeps what the slowest peer has not acknowledged", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    for (const n of ["a", "b", "c", "d"]) appendHistory(tx, { kind: "add", path: p(n) });
    ackHistory(tx, A, 4);
    ackHistory(tx, B, 2);
  });
  const r = f.db.write((tx) => trimHistory(tx, [A, B]));
  assert.deepEqual(r, { deleted: 2, lagging: [] });
  assert.deepEqual(f.kinds(), ["add c", "add d"]);
  assert.equal(f.db.read((tx) => canResume(tx, B, 2)), true);
  assert.equal(f.db.read((tx) => canResume(tx, B, 1)), false, "entry 2 was trimmed");
  assert.equal(f.db.read((tx) => canResume(tx, A, 9)), false, "a position from elsewhere");
});

Deno.test("trimHistory(): a peer never heard from holds everything until it lags too far", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    for (let i = 0; i < 10; i++) appendHistory(tx, { kind: "add", path: p(`f${i}`) });
    ackHistory(tx, A, 10);
  });
  const bounds = { maxEntries: 20, maxAgeMs: 1000 };
  assert.deepEqual(f.db.write((tx) => trimHistory(tx, [A, B], bounds, Date.now())), {
    deleted: 0,
    lagging: [],
  });
  // B is now more than maxAgeMs behind: it gets a catch-up and stops holding history.
  const later = Date.now() + 5000;
  assert.deepEqual(f.db.write((tx) => trimHistory(tx, [A, B], bounds, later)), {
    deleted: 10,
    lagging: [B],
  });
  assert.equal(f.db.read((tx) => canResume(tx, B, 0)), false);
  // After its full catch-up, B acknowledges the index it ended at and may resume again.
  f.db.write((tx) => ackHistory(tx, B, 10));
  assert.equal(f.db.read((tx) => canResume(tx, B, 10)), true);
});

Deno.test("trimHistory(): a peer more than maxEntries behind is marked for a catch-up", () => {
  using f = Fixture.setup();
  f.db.write((tx) => {
    for (let i = 0; i < 50; i++) appendHistory(tx, { kind: "add", path: p(`f${i}`) });
    ackHistory(tx, A, 50);
    ackHistory(tx, B, 5);
  });
  const r = f.db.write((tx) => trimHistory(tx, [A, B], { maxEntries: 10, maxAgeMs: 1e12 }));
  assert.deepEqual(r, { deleted: 50, lagging: [B] });
});

Deno.test("putFile() refuses an entry with both a hash and a base hash", () => {
  using f = Fixture.setup();
  const h = Hash.of(new Uint8Array(1));
  assert.throws(
    () => f.db.write((tx) => putFile(tx, { path: p("x"), ...f.version(1), hash: h, baseHash: h })),
    /no base hash/,
  );
});
