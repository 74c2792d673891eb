import assert from "node:assert/strict";
import { join } from "node:path";
import { type ArenaName, parseArenaName } from "../types/mod.ts";
import { AssertionError } from "../util/mod.ts";
import { Child } from "./_testing.ts";
import { openArenaDatabase, openGlobalDatabase } from "./arena_db.ts";
import type { Database } from "./database.ts";
import {
  allocateRange,
  ARENA_INODE_SCHEMA,
  FIRST_RANGE_START,
  GLOBAL_INODE_SCHEMA,
  InodeAllocator,
  inodeOwner,
  type InodeRange,
  listRanges,
} from "./inode_ranges.ts";

const WORKER = new URL("./testdata/inode_worker.ts", import.meta.url);
const DOCS = parseArenaName("docs");
const PHOTOS = parseArenaName("photos/2024");

/** A global database and arena databases in a temporary directory. */
class Fixture {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_inode_" });
  readonly globalPath = join(this.dir, "cache.db");
  readonly globalDb: Database;
  readonly #arenas = new Map<ArenaName, { db: Database; allocator: InodeAllocator }>();

  private constructor() {
    this.globalDb = openGlobalDatabase(this.globalPath, { schemas: [GLOBAL_INODE_SCHEMA] });
  }

  static setup(): Fixture {
    return new Fixture();
  }

  workdir(arena: ArenaName): string {
    return join(this.dir, arena.replaceAll("/", "_"));
  }

  /** Opens (or reopens) an arena with ranges of `rangeSize` inodes. */
  openArena(arena: ArenaName, rangeSize = 3): void {
    this.closeArena(arena);
    const db = openArenaDatabase(this.workdir(arena), arena, { schemas: [ARENA_INODE_SCHEMA] });
    const allocator = new InodeAllocator({
      arenaDb: db,
      globalDb: this.globalDb,
      arena,
      rangeSize,
    });
    this.#arenas.set(arena, { db, allocator });
  }

  closeArena(arena: ArenaName): void {
    this.#arenas.get(arena)?.db.close();
    this.#arenas.delete(arena);
  }

  /** Allocates `count` inodes, each in its own committed transaction. */
  allocate(arena: ArenaName, count = 1): number[] {
    const { db, allocator } = this.#get(arena);
    return Array.from({ length: count }, () => db.write((tx) => allocator.next(tx)));
  }

  /** Allocates an inode in a transaction that is then rolled back. */
  allocateAndAbort(arena: ArenaName): number {
    const { db, allocator } = this.#get(arena);
    let inode = 0;
    assert.throws(() =>
      db.write((tx) => {
        inode = allocator.next(tx);
        throw new Error("abort");
      }), { message: "abort" });
    return inode;
  }

  ranges(): InodeRange[] {
    return this.globalDb.read((tx) => listRanges(tx));
  }

  #get(arena: ArenaName) {
    const entry = this.#arenas.get(arena);
    assert(entry !== undefined, `arena ${arena} is open`);
    return entry;
  }

  [Symbol.dispose](): void {
    for (const arena of [...this.#arenas.keys()]) this.closeArena(arena);
    this.globalDb.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}

function range(start: number, end: number, owner: ArenaName): InodeRange {
  return { start, end, owner };
}

function assertDisjoint(ranges: readonly InodeRange[]): void {
  for (let i = 1; i < ranges.length; i++) {
    assert(ranges[i - 1]!.end <= ranges[i]!.start, `ranges ${i - 1} and ${i} do not overlap`);
  }
}

Deno.test("allocateRange() starts after the FUSE root and appends new ranges", () => {
  using f = Fixture.setup();
  assert.deepEqual(allocateRange(f.globalDb, DOCS, 0, 10), range(FIRST_RANGE_START, 12, DOCS));
  assert.deepEqual(allocateRange(f.globalDb, PHOTOS, 0, 5), range(12, 17, PHOTOS));
  assert.deepEqual(allocateRange(f.globalDb, DOCS, 12, 10), range(17, 27, DOCS));
  assert.deepEqual(f.ranges(), [range(2, 12, DOCS), range(12, 17, PHOTOS), range(17, 27, DOCS)]);
});

Deno.test("allocateRange() returns a range the arena owns after the exhausted end", () => {
  using f = Fixture.setup();
  allocateRange(f.globalDb, DOCS, 0, 10);
  allocateRange(f.globalDb, PHOTOS, 0, 10);
  allocateRange(f.globalDb, DOCS, 12, 10);
  assert.deepEqual(allocateRange(f.globalDb, DOCS, 0, 10), range(2, 12, DOCS));
  assert.deepEqual(allocateRange(f.globalDb, DOCS, 12, 10), range(22, 32, DOCS));
  assert.deepEqual(allocateRange(f.globalDb, PHOTOS, 0, 10), range(12, 22, PHOTOS));
  assert.deepEqual(allocateRange(f.globalDb, DOCS, 32, 10), range(32, 42, DOCS));
  assert.equal(f.ranges().length, 4);
});

Deno.test("allocateRange() refuses to run inside a global transaction", () => {
  using f = Fixture.setup();
  assert.throws(
    () => f.globalDb.write(() => allocateRange(f.globalDb, DOCS, 0, 3)),
    AssertionError,
  );
});

Deno.test("InodeAllocator.next() hands out the ids of its range, then the next range", () => {
  using f = Fixture.setup();
  f.openArena(DOCS);
  f.openArena(PHOTOS);
  assert.deepEqual(f.allocate(DOCS, 2), [2, 3]);
  assert.deepEqual(f.allocate(PHOTOS, 4), [5, 6, 7, 8]);
  assert.deepEqual(f.allocate(DOCS, 2), [4, 11]);
  assert.deepEqual(f.ranges(), [
    range(2, 5, DOCS),
    range(5, 8, PHOTOS),
    range(8, 11, PHOTOS),
    range(11, 14, DOCS),
  ]);
  assert.equal(f.globalDb.read((tx) => inodeOwner(tx, 9)), PHOTOS);
  assert.equal(f.globalDb.read((tx) => inodeOwner(tx, 1)), null);
  assert.equal(f.globalDb.read((tx) => inodeOwner(tx, 14)), null);
});

Deno.test("InodeAllocator.next() gets the same range after an aborted transaction", () => {
  using f = Fixture.setup();
  f.openArena(DOCS);
  assert.equal(f.allocateAndAbort(DOCS), 2);
  assert.deepEqual(f.ranges(), [range(2, 5, DOCS)]); // committed globally, forgotten locally
  assert.deepEqual(f.allocate(DOCS, 3), [2, 3, 4]);
  assert.equal(f.allocateAndAbort(DOCS), 5);
  assert.deepEqual(f.allocate(DOCS, 2), [5, 6]);
  assert.deepEqual(f.ranges(), [range(2, 5, DOCS), range(5, 8, DOCS)]);
});

Deno.test("InodeAllocator.next() gets its own ranges back after a deleted database", () => {
  using f = Fixture.setup();
  f.openArena(DOCS);
  f.openArena(PHOTOS);
  const before = [...f.allocate(DOCS, 3), ...f.allocate(PHOTOS, 3), ...f.allocate(DOCS, 3)];
  assert.deepEqual(before, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  f.allocate(PHOTOS, 1); // photos moves on to a new range: 11..14
  f.closeArena(DOCS);
  Deno.removeSync(f.workdir(DOCS), { recursive: true });
  f.openArena(DOCS);
  assert.deepEqual(f.allocate(DOCS, 3), [2, 3, 4]); // the first range of docs
  assert.deepEqual(f.allocate(DOCS, 3), [8, 9, 10]); // its second, skipping photos' 5..8
  assert.deepEqual(f.allocate(DOCS, 1), [14]); // then a new one
  assert.deepEqual(f.ranges().map((r) => r.owner), [DOCS, PHOTOS, DOCS, PHOTOS, DOCS]);
});

Deno.test("InodeAllocator.next() keeps its range across reopen", () => {
  using f = Fixture.setup();
  f.openArena(DOCS, 10);
  assert.deepEqual(f.allocate(DOCS, 2), [2, 3]);
  f.openArena(DOCS, 10);
  assert.deepEqual(f.allocate(DOCS, 2), [4, 5]);
  assert.equal(f.ranges().length, 1);
});

Deno.test("InodeAllocator.next() ids never collide across arenas", () => {
  using f = Fixture.setup();
  const arenas = ["a", "b", "c", "d/e"].map(parseArenaName);
  for (const arena of arenas) f.openArena(arena, 2);
  const owners = new Map<number, ArenaName>();
  for (let round = 0; round < 25; round++) {
    for (const [i, arena] of arenas.entries()) {
      if (round % (i + 1) === 0) f.allocateAndAbort(arena);
      for (const inode of f.allocate(arena, 1 + (round % 3))) {
        assert.equal(owners.get(inode), undefined, `inode ${inode} is handed out once`);
        owners.set(inode, arena);
        assert.equal(f.globalDb.read((tx) => inodeOwner(tx, inode)), arena);
      }
    }
  }
  assertDisjoint(f.ranges());
});

Deno.test("allocateRange() keeps ranges disjoint across concurrent processes", async () => {
  using f = Fixture.setup();
  const count = 150;
  const size = 2;
  const arenas = ["p1", "p2", "p3", "p4/x"].map(parseArenaName);
  const sharedPath = join(f.dir, "shared", "cache.db"); // created by the children, racing
  const children = arenas.map((arena) =>
    Child.spawn(WORKER, [sharedPath, f.workdir(arena), arena, `${count}`, `${size}`])
  );
  try {
    for (const child of children) await child.waitFor("ready");
    await Promise.all(children.map((child) => child.send("go")));
    const results = await Promise.all(children.map((child) => child.finish()));
    using shared = openGlobalDatabase(sharedPath, { schemas: [GLOBAL_INODE_SCHEMA] });
    const ranges = shared.read((tx) => listRanges(tx));
    assertDisjoint(ranges);
    const seen = new Set<number>();
    for (const [i, result] of results.entries()) {
      assert.equal(result.code, 0, result.stderr);
      const arena = arenas[i]!;
      const inodes: number[] = JSON.parse(result.lines.at(-1)!);
      const own = ranges.filter((r) => r.owner === arena);
      assert.equal(own.length, Math.ceil(count / size), `no range of ${arena} was leaked`);
      const expected = own.flatMap((r) =>
        Array.from({ length: r.end - r.start }, (_, k) => r.start + k)
      );
      assert.deepEqual(inodes, expected.slice(0, count));
      for (const inode of inodes) {
        assert(!seen.has(inode), `inode ${inode} is handed out once`);
        seen.add(inode);
      }
    }
    const owners = new Set(ranges.map((r) => r.owner));
    assert.equal(owners.size, arenas.length);
  } finally {
    await Promise.all(children.map((child) => child[Symbol.asyncDispose]()));
  }
});
