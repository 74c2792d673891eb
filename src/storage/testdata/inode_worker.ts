/**
 * Allocates inodes for one arena from another process, for `inode_ranges_test.ts`.
 *
 * `deno run -A inode_worker.ts GLOBAL_DB WORKDIR ARENA COUNT RANGE_SIZE`: opens both
 * databases, prints `ready`, waits for a line on stdin, then allocates COUNT inodes,
 * each in its own arena transaction, rolling back every third transaction after it
 * allocated (and retrying it). Prints the committed inodes as one JSON line and exits.
 *
 * @module
 */

// deno-lint-ignore-file no-console
import { parseArenaName } from "../../types/mod.ts";
import { openArenaDatabase, openGlobalDatabase } from "../arena_db.ts";
import { ARENA_INODE_SCHEMA, GLOBAL_INODE_SCHEMA, InodeAllocator } from "../inode_ranges.ts";

async function main(): Promise<void> {
  const [globalPath, workdir, arenaText, countText, sizeText] = Deno.args;
  if (globalPath === undefined || workdir === undefined || arenaText === undefined) {
    throw new Error("usage");
  }
  const arena = parseArenaName(arenaText);
  using globalDb = openGlobalDatabase(globalPath, { schemas: [GLOBAL_INODE_SCHEMA] });
  using arenaDb = openArenaDatabase(workdir, arena, { schemas: [ARENA_INODE_SCHEMA] });
  const allocator = new InodeAllocator({ arenaDb, globalDb, arena, rangeSize: Number(sizeText) });
  console.log("ready");
  await Deno.stdin.readable.getReader().read(); // the go signal
  const inodes: number[] = [];
  for (let attempt = 0; inodes.length < Number(countText); attempt++) {
    try {
      arenaDb.write((tx) => {
        const inode = allocator.next(tx);
        if (attempt % 3 === 2) throw new Error("abort");
        inodes.push(inode);
      });
    } catch (error) {
      if (!(error instanceof Error) || error.message !== "abort") throw error;
    }
  }
  console.log(JSON.stringify(inodes));
}

if (import.meta.main) await main();
