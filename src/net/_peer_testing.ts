/**
 * In-process peers for protocol tests: each has one arena (a datadir with its real, or
 * none) and its unreal, a Store, and links to other peers over in-memory channels.
 * Not used by product code.
 *
 * @module
 */

import type { PeerConfig } from "../config/mod.ts";
import { DeltaPool } from "../delta/mod.ts";
import { decodePublicKeyPem, generateKeyPair, type KeyPair } from "../keys/mod.ts";
import { HashPool, RealArena } from "../real/mod.ts";
import {
  type Database,
  GLOBAL_INODE_SCHEMA,
  openArenaDatabase,
  openGlobalDatabase,
} from "../storage/mod.ts";
import {
  type ArenaName,
  type Mark,
  parseArenaName,
  parsePeerName,
  type PeerName,
} from "../types/mod.ts";
import { ARENA_SCHEMAS, GLOBAL_TREE_SCHEMA, shownHash, UnrealArena } from "../unreal/mod.ts";
import { memoryChannels } from "./_memory_channel.ts";
import { PROTOCOL_VERSION } from "./messages.ts";
import { Household } from "./household.ts";
import { type Applied, PeerLink } from "./peer_link.ts";
import { Session } from "./session.ts";
import { Store } from "./store.ts";

export const DOCS: ArenaName = parseArenaName("docs");

/** One peer with the arena `docs`. */
export class TestPeer {
  readonly name: PeerName;
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_peer_" });
  readonly datadir: string | null;
  #overlay = false;
  globalDb!: Database;
  db!: Database;
  real: RealArena | null = null;
  unreal!: UnrealArena;
  store!: Store;
  readonly pool = new HashPool({ workers: 1 });
  readonly deltas = new DeltaPool({ workers: 1 });
  readonly applied: Applied[] = [];
  keys!: KeyPair;
  household: Household | null = null;
  #mark: Mark;

  private constructor(name: string, local: boolean, mark: Mark) {
    this.name = parsePeerName(name);
    this.datadir = local ? `${this.dir}/data` : null;
    if (this.datadir !== null) Deno.mkdirSync(this.datadir);
    this.#mark = mark;
  }

  /**
   * Makes a peer and starts its arena.
   *
   * @param name peer name
   * @param options `local`: whether it has a datadir; `files` to write first; `mark`;
   *   `overlay`: its datadir is an overlay's upper layer (a new file at the path of a
   *   version shown from a peer replaces that version, as the daemon does)
   * @returns the peer
   */
  static async start(
    name: string,
    options: { local?: boolean; files?: Record<string, string>; mark?: Mark; overlay?: boolean } =
      {},
  ): Promise<TestPeer> {
    const p = new TestPeer(name, options.local ?? true, options.mark ?? "watch");
    p.#overlay = options.overlay ?? false;
    p.keys = await generateKeyPair();
    for (const [path, content] of Object.entries(options.files ?? {})) p.write(path, content);
    await p.open();
    return p;
  }

  /** Opens databases and starts the arena (again, after {@linkcode close}). */
  async open(): Promise<void> {
    this.globalDb = openGlobalDatabase(`${this.dir}/cache.db`, {
      schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
    });
    this.db = openArenaDatabase(`${this.dir}/work`, DOCS, { schemas: ARENA_SCHEMAS });
    this.unreal = UnrealArena.open({
      name: DOCS,
      db: this.db,
      globalDb: this.globalDb,
      workdir: `${this.dir}/work`,
      diskUsage: null,
      hashFile: (path, options) => this.pool.hashFile(path, options), // as the daemon does
    });
    if (this.datadir !== null) {
      this.real = new RealArena({
        name: `${this.name}/docs`,
        db: this.db,
        datadir: this.datadir,
        debounceMs: 0,
        pool: this.pool,
        hashersMax: 1,
        trashDir: `${this.dir}/work/trash`,
        overlayUpper: this.#overlay,
        ...(this.#overlay ? { baseOf: shownHash } : {}),
      });
      await this.real.start();
    }
    this.store = new Store({
      arenas: new Map([[DOCS, { db: this.db, datadir: this.datadir }]]),
      software: "test",
      deltas: this.deltas,
    });
  }

  /** Stops the arena and closes the databases. */
  async close(): Promise<void> {
    await this.real?.stop();
    await this.unreal.close();
    this.db.close();
    this.globalDb.close();
  }

  /**
   * Writes a local file.
   *
   * @param path relative path
   * @param content text
   */
  write(path: string, content: string): void {
    const abs = `${this.datadir}/${path}`;
    Deno.mkdirSync(abs.slice(0, abs.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(abs, content);
  }

  /** Waits until the local arena has nothing left to do. */
  async settled(): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (this.real !== null && !this.real.idle()) {
      if (Date.now() > deadline) throw new Error(`${this.name}: did not settle`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Connects to another peer: one channel pair, a session on each side serving its own
   * store, and a link on each side subscribing to the other.
   *
   * @param other the peer to connect to
   * @returns the two links (ours first) and a disconnect function
   */
  async connect(
    other: TestPeer,
  ): Promise<{ mine: PeerLink; theirs: PeerLink; close(): Promise<void> }> {
    const [toOther, toMe] = memoryChannels(this.name, other.name);
    const hello = (p: TestPeer) => ({
      version: PROTOCOL_VERSION,
      batchRateLimit: 0,
      software: p.name,
    });
    const mySession = new Session(
      toOther,
      (req, ctx) => this.store.handler(other.name, hello(this))(req, ctx),
    );
    const theirSession = new Session(
      toMe,
      (req, ctx) => other.store.handler(this.name, hello(other))(req, ctx),
    );
    const link = (p: TestPeer, s: Session) =>
      new PeerLink(s, {
        arenas: new Map([[DOCS, { db: p.db, unreal: p.unreal, real: p.real, mark: p.#mark }]]),
        hello: hello(p),
        onApplied: (a) => p.applied.push(a),
      });
    const mine = link(this, mySession);
    const theirs = link(other, theirSession);
    await Promise.all([mine.start(), theirs.start()]);
    return {
      mine,
      theirs,
      close: async () => {
        mine.stop();
        theirs.stop();
        await mySession.close();
        await theirSession.close();
      },
    };
  }

  /**
   * This peer as another peer's `[[peer]]` entry.
   *
   * @param options its address (when the other dials it) and the batch rate limit
   * @returns the entry
   */
  asPeer(options: { port?: number | null; batchRateLimit?: number } = {}): PeerConfig {
    return {
      name: this.name,
      address: options.port === undefined || options.port === null
        ? null
        : { host: "127.0.0.1", port: options.port },
      pubkey: decodePublicKeyPem(this.keys.publicKey.pem),
      batchRateLimitBytesPerSec: options.batchRateLimit ?? null,
    };
  }

  /**
   * Joins a household over real TLS on loopback.
   *
   * @param peers the other peers' entries (with an address for those to dial)
   * @param options `listen`: listen on this port (0: any) or not at all (`null`)
   * @returns the household
   */
  async join(peers: PeerConfig[], options: { listen?: number | null } = {}): Promise<Household> {
    const port = options.listen === undefined ? 0 : options.listen;
    this.household = await Household.start({
      keys: this.keys,
      peers,
      listen: port === null ? null : { host: "127.0.0.1", port },
      arenas: new Map([[DOCS, {
        db: this.db,
        datadir: this.datadir,
        unreal: this.unreal,
        real: this.real,
        mark: this.#mark,
      }]]),
      software: "test",
      deltas: this.deltas,
      backoff: { initialMs: 50, maxMs: 500 },
      onApplied: (a) => this.applied.push(a),
    });
    return this.household;
  }

  /** Leaves the household. */
  async leave(): Promise<void> {
    await this.household?.stop();
    this.household = null;
  }

  /** Stops everything and removes the directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.leave();
    await this.close();
    await this.pool.close();
    await this.deltas.close();
    await Deno.remove(this.dir, { recursive: true });
  }
}

/**
 * Waits for a condition, polling.
 *
 * @param cond the condition
 * @param what for the timeout error
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
