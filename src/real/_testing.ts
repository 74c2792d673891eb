/**
 * Test fixture for the real: a temporary datadir and workdir, the arena database, a
 * hash pool and a {@linkcode RealArena}. Not used by product code.
 *
 * @module
 */

import { join } from "node:path";
import { type Database, markFor, openArenaDatabase } from "../storage/mod.ts";
import {
  Hash,
  type Mark,
  type Notification,
  parseArenaName,
  type Path,
  paths,
} from "../types/mod.ts";
import { HashPool } from "./hash_pool.ts";
import { historyAfter, type IndexedEntry, translate } from "./history.ts";
import { getFile, type IndexEntry } from "./index.ts";
import { type FileHasher, RealArena, type RealArenaOptions } from "./real_arena.ts";
import { REAL_SCHEMAS } from "./mod.ts";

/** How long tests wait for the watcher and hashers. */
export const DEADLINE_MS = 15_000;

/** Options of {@linkcode RealFixture.setup}. */
export interface FixtureOptions {
  /** Debounce before hashing; tests use 0. */
  readonly debounceMs?: number;
  /** Files to create before the arena starts: path → content. */
  readonly files?: Record<string, string>;
  /** Replaces the hash pool. */
  readonly pool?: FileHasher;
  /** Other options of the arena, or a function of the fixture giving them. */
  readonly arena?: Partial<RealArenaOptions> | ((f: RealFixture) => Partial<RealArenaOptions>);
}

/** A datadir with its arena, started or not. */
export class RealFixture {
  readonly dir: string;
  readonly datadir: string;
  readonly workdir: string;
  readonly pool: HashPool;
  db!: Database;
  arena!: RealArena;
  #options: FixtureOptions = {};

  private constructor() {
    this.dir = Deno.makeTempDirSync({ prefix: "realize_real_" });
    this.datadir = join(this.dir, "data");
    this.workdir = join(this.dir, "work");
    Deno.mkdirSync(this.datadir);
    this.pool = new HashPool({ workers: 2 });
  }

  /**
   * Makes the directories, writes `options.files`, opens the database and makes the
   * arena (not started).
   *
   * @param options see {@linkcode FixtureOptions}
   * @returns the fixture; dispose it with `await using`
   */
  static setup(options: FixtureOptions = {}): RealFixture {
    const f = new RealFixture();
    f.#options = options;
    for (const [p, content] of Object.entries(options.files ?? {})) f.write(p, content);
    f.open();
    return f;
  }

  /**
   * Opens the database and makes a new arena over it.
   *
   * @param pool replaces the hash pool for this arena
   */
  open(pool?: FileHasher): void {
    this.db = openArenaDatabase(this.workdir, parseArenaName("test"), { schemas: REAL_SCHEMAS });
    const more = this.#options.arena;
    this.arena = new RealArena({
      name: "test",
      db: this.db,
      datadir: this.datadir,
      debounceMs: this.#options.debounceMs ?? 0,
      pool: pool ?? this.#options.pool ?? this.pool,
      hashersMax: 2,
      ...(typeof more === "function" ? more(this) : more),
    });
  }

  /** Stops the arena and closes the database, as a daemon shutting down. */
  async close(): Promise<void> {
    await this.arena.stop();
    this.db.close();
  }

  /**
   * Absolute path in the datadir.
   *
   * @param p relative path
   * @returns the absolute path
   */
  abs(p: string): string {
    return join(this.datadir, p);
  }

  /**
   * Writes a file in the datadir, making its parents.
   *
   * @param p relative path
   * @param content the text
   */
  write(p: string, content: string): void {
    Deno.mkdirSync(join(this.abs(p), ".."), { recursive: true });
    Deno.writeTextFileSync(this.abs(p), content);
  }

  /**
   * The index entry of a path.
   *
   * @param p the path
   * @returns its entry or null
   */
  entry(p: string): IndexEntry | null {
    return this.db.read((tx) => getFile(tx, paths.parse(p)));
  }

  /**
   * Every history entry, oldest first.
   *
   * @returns the entries
   */
  history(): IndexedEntry[] {
    return this.db.read((tx) => historyAfter(tx, 0, 10_000));
  }

  /**
   * The history entries after `after`, as short strings: `add a`, `replace a`,
   * `rename a -> b`.
   *
   * @param after the last index not to show
   * @returns the entries
   */
  changes(after = 0): string[] {
    return this.db.read((tx) => historyAfter(tx, after, 10_000)).map(describe);
  }

  /**
   * What a peer replaying the whole history now would be told.
   *
   * @returns the notifications
   */
  notifications(): Notification[] {
    return this.db.read((tx) => historyAfter(tx, 0, 10_000).flatMap((e) => translate(tx, e)));
  }

  /**
   * The effective mark of a path.
   *
   * @param p the path
   * @returns the mark (arena default `watch`)
   */
  mark(p: string): Mark {
    return this.db.read((tx) => markFor(tx, paths.parse(p), "watch"));
  }

  /**
   * Waits until the file at `p` is indexed with the hash of `content`.
   *
   * @param p the path
   * @param content its expected content
   */
  async hashed(p: string, content: string): Promise<void> {
    const want = Hash.of(new TextEncoder().encode(content));
    await waitUntil(() => this.entry(p)?.hash?.equals(want) === true, `"${p}" hashed`);
  }

  /** Waits until the arena has nothing left to do. */
  async settled(): Promise<void> {
    await waitUntil(() => this.arena.idle(), "the arena to settle");
  }

  /** Stops everything and removes the directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.arena.stop();
    this.db.close();
    await this.pool.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}

/**
 * Short form of a history entry.
 *
 * @param e an entry
 * @returns e.g. `add a`, `remove a`, `rename a -> b`
 */
export function describe(e: IndexedEntry): string {
  return e.kind === "branch" || e.kind === "rename"
    ? `${e.kind} ${e.path} -> ${e.dest}`
    : `${e.kind} ${e.path}`;
}

/**
 * Polls until `condition` holds, or fails after {@linkcode DEADLINE_MS}.
 *
 * @param condition checked every 10 ms
 * @param what for the error
 */
export async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The hash of a text.
 *
 * @param content the text
 * @returns its BLAKE3 hash
 */
export function hashOf(content: string): Hash {
  return Hash.of(new TextEncoder().encode(content));
}

/** Re-export for tests. */
export type { Path };
