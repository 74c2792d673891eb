/**
 * Test fixture for the unreal: an arena database and a global database in a temporary
 * directory, an inode allocator, the arena's view and a filesystem over it. Not used by
 * product code.
 *
 * @module
 */

import {
  Database,
  dirtyAfter,
  GLOBAL_INODE_SCHEMA,
  InodeAllocator,
  openArenaDatabase,
  openGlobalDatabase,
} from "../storage/mod.ts";
import {
  type AddNotification,
  type ArenaName,
  Hash,
  type Notification,
  parseArenaName,
  parsePeerName,
  type Path,
  paths,
  type PeerName,
  UnixTime,
} from "../types/mod.ts";
import { ArenaView } from "./arena_view.ts";
import { Filesystem, GLOBAL_TREE_SCHEMA } from "./filesystem.ts";
import { ARENA_SCHEMAS } from "./mod.ts";
import { applyNotification } from "./remote.ts";

export const A: PeerName = parsePeerName("a");
export const B: PeerName = parsePeerName("b");

/**
 * The hash of a text.
 *
 * @param s the text
 * @returns its hash
 */
export function h(s: string): Hash {
  return Hash.of(new TextEncoder().encode(s));
}

/**
 * A path.
 *
 * @param s text
 * @returns the path
 */
export function p(s: string): Path {
  return paths.parse(s);
}

/** One arena (or several) on disk. */
export class UnrealFixture {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_unreal_" });
  globalDb!: Database;
  readonly arenas = new Map<ArenaName, { db: Database; alloc: InodeAllocator; view: ArenaView }>();
  fs!: Filesystem;
  #names: ArenaName[];
  #index = 0;

  private constructor(names: string[]) {
    this.#names = names.map(parseArenaName);
    this.open();
  }

  /**
   * Opens databases for arenas.
   *
   * @param names arena names (default one arena `docs`)
   * @returns the fixture; dispose with `using`
   */
  static setup(...names: string[]): UnrealFixture {
    return new UnrealFixture(names.length === 0 ? ["docs"] : names);
  }

  /** (Re)opens every database and view, as a daemon starting. */
  open(): void {
    const schemas = [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA];
    this.globalDb = openGlobalDatabase(`${this.dir}/cache.db`, { schemas });
    for (const name of this.#names) {
      const workdir = `${this.dir}/${name.replaceAll("/", "_")}`;
      const db = openArenaDatabase(workdir, name, { schemas: ARENA_SCHEMAS });
      const alloc = new InodeAllocator({
        arenaDb: db,
        globalDb: this.globalDb,
        arena: name,
        rangeSize: 100,
      });
      this.arenas.set(name, { db, alloc, view: new ArenaView(db, alloc) });
    }
    this.fs = new Filesystem(
      this.globalDb,
      new Map([...this.arenas].map(([n, a]) => [n, a.view])),
    );
  }

  /** Closes every database. */
  close(): void {
    for (const a of this.arenas.values()) a.db.close();
    this.arenas.clear();
    this.globalDb.close();
  }

  /** The first arena. */
  get arena(): { db: Database; alloc: InodeAllocator; view: ArenaView } {
    return this.arenas.get(this.#names[0]!)!;
  }

  /** The first arena's database. */
  get db(): Database {
    return this.arena.db;
  }

  /**
   * Applies notifications from a peer to the first arena, each in its own transaction.
   *
   * @param peer the peer
   * @param ns notifications without their index (numbered here)
   */
  apply(peer: PeerName, ...ns: Notification[]): void {
    for (const n of ns) {
      this.db.write((tx) => applyNotification(tx, peer, { ...n, index: ++this.#index }));
    }
  }

  /**
   * An `add` notification.
   *
   * @param path the path
   * @param content the content (its hash and size are used); `null` for a pending version
   * @param secs mtime seconds
   * @returns the notification
   */
  add(path: string, content: string | null, secs = 1000): AddNotification {
    return {
      kind: "add",
      index: 0,
      path: p(path),
      size: content?.length ?? 7,
      mtime: UnixTime.of(secs),
      hash: content === null ? null : h(content),
    };
  }

  /**
   * Paths marked dirty so far, in order.
   *
   * @returns their paths
   */
  dirty(): string[] {
    return this.db.read((tx) => dirtyAfter(tx, 0, 1000)).map((e) => e.path);
  }

  /** Closes and removes everything. */
  [Symbol.dispose](): void {
    this.close();
    Deno.removeSync(this.dir, { recursive: true });
  }
}
