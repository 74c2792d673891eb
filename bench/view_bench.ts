/**
 * The filesystem-shaped view of the unreal: lookups and a full readdir of a directory of
 * 100,000 remote files, from a warm database, in an arena with a datadir and in one without
 * (the FUSE worker skips the local tables there). References in the same run: `lstat` of
 * 100,000 files in one directory of the local disk, and `readDir` of that directory.
 *
 * @module
 */

import {
  GLOBAL_INODE_SCHEMA,
  InodeAllocator,
  openArenaDatabase,
  openGlobalDatabase,
} from "../src/storage/mod.ts";
import { Hash, parseArenaName, parsePeerName, paths, UnixTime } from "../src/types/mod.ts";
import {
  applyNotification,
  ARENA_SCHEMAS,
  ArenaView,
  Filesystem,
  GLOBAL_TREE_SCHEMA,
} from "../src/unreal/mod.ts";
import { rate, type Result } from "./_report.ts";

const FILES = Number(Deno.env.get("REALIZE_BENCH_FILES") ?? 100_000);

/**
 * Runs the benchmark in a temporary directory.
 *
 * @returns the results
 */
export function run(): Result[] {
  const dir = Deno.makeTempDirSync({ prefix: "realize-bench-view-" });
  try {
    Deno.mkdirSync(`${dir}/disk`);
    for (let i = 0; i < FILES; i++) Deno.writeFileSync(`${dir}/disk/f${i}`, new Uint8Array(0));
    const statRate = rate(FILES, () => {
      for (let i = 0; i < FILES; i++) Deno.lstatSync(`${dir}/disk/f${i}`);
    });
    const listRate = rate(FILES, () => {
      let n = 0;
      for (const _ of Deno.readDirSync(`${dir}/disk`)) n++;
      if (n !== FILES) throw new Error("readDir count");
    });

    const globalDb = openGlobalDatabase(`${dir}/cache.db`, {
      schemas: [GLOBAL_INODE_SCHEMA, GLOBAL_TREE_SCHEMA],
    });
    const arena = parseArenaName("bench");
    const db = openArenaDatabase(`${dir}/work`, arena, { schemas: ARENA_SCHEMAS });
    const alloc = new InodeAllocator({ arenaDb: db, globalDb, arena });
    const peer = parsePeerName("peer");
    db.write((tx) => {
      for (let i = 0; i < FILES; i++) {
        const hash = Hash.of(new TextEncoder().encode(`f${i}`));
        const path = paths.parse(`big/f${i}`);
        applyNotification(tx, peer, {
          kind: "add",
          index: i + 1,
          path,
          size: i,
          mtime: UnixTime.of(1e9),
          hash,
        }, alloc);
      }
    });
    const view = new ArenaView(db, alloc);
    const fs = new Filesystem(globalDb, new Map([[arena, view]]));
    const big = fs.lookup(view.root, "big")!.ino;
    const readdirRate = rate(FILES, () => {
      let n = 0;
      for (let off = 0;;) {
        const batch = fs.readdir(big, off, 1024)!;
        if (batch.length === 0) break;
        n += batch.length;
        off = batch.at(-1)!.next;
      }
      if (n !== FILES) throw new Error(`readdir count ${n}`);
    });
    const lookupRate = rate(FILES, () => {
      for (let i = 0; i < FILES; i++) fs.lookup(big, `f${i}`);
    });
    // The same arena seen as the FUSE worker sees one without a datadir.
    const remote = new ArenaView(db, alloc, { local: false });
    const remoteFs = new Filesystem(globalDb, new Map([[arena, remote]]));
    const remoteRate = rate(FILES, () => {
      for (let i = 0; i < FILES; i++) remoteFs.lookup(big, `f${i}`);
    });
    db.close();
    globalDb.close();
    const n = `${FILES / 1000}k`;
    return [
      {
        name: `lookup in a ${n}-entry directory, arena without a datadir`,
        value: remoteRate,
        unit: "ops/s",
        reference: "Deno.lstatSync on disk",
        referenceValue: statRate,
      },
      {
        name: `lookup in a ${n}-entry directory, arena with a datadir`,
        value: lookupRate,
        unit: "ops/s",
        reference: "Deno.lstatSync on disk",
        referenceValue: statRate,
      },
      {
        name: `readdir of a ${n}-entry directory`,
        value: readdirRate,
        unit: "entries/s",
        reference: "Deno.readDirSync on disk",
        referenceValue: listRate,
      },
    ];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
