/**
 * `realize ls ARENA [PATH]`: what is in an arena directory — local and remote files,
 * which peer has which version, how much is cached. Reads the arena database directly
 * (the daemon holds it while it runs; going through the daemon arrives with it).
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { openArenaDatabase } from "../storage/mod.ts";
import { type ArenaName, type Path, paths, type PeerName } from "../types/mod.ts";
import {
  ARENA_SCHEMAS,
  listDir,
  type Listed,
  listedToJson,
  listPath,
  statusText,
} from "../unreal/mod.ts";
import type { CliIo } from "./io.ts";
import { UsageError } from "./io.ts";

function human(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

function versions(e: Listed): string {
  const short = (h: { toString(): string } | null) =>
    h === null ? "pending" : h.toString().slice(0, 8);
  const shown = e.remote?.hash ?? null;
  const parts = e.local === null ? [] : [`local:${short(e.local.hash)}`];
  for (const p of e.peers) {
    const mark = e.remote !== null && p.peer === e.remote.peer &&
        (p.hash === null ? shown === null : shown !== null && p.hash.equals(shown))
      ? "*"
      : "";
    parts.push(`${mark}${p.peer as PeerName}:${short(p.hash)}`);
  }
  return parts.join(" ");
}

function line(e: Listed): string {
  if (e.kind === "dir") {
    return `${"dir".padEnd(22)}${"".padStart(11)}  ${"".padEnd(19)}  ${e.name}/`;
  }
  const v = e.local ?? e.remote!;
  const mtime = v.mtime.toDate().toISOString().slice(0, 19).replace("T", " ");
  return `${statusText(e).padEnd(22)}${human(v.size).padStart(11)}  ${mtime}  ${e.name}  ${
    versions(e)
  }`;
}

/**
 * Lists a directory of an arena (or one file).
 *
 * @param config the configuration
 * @param args arena name and optional path
 * @param options `json`: machine-readable output
 * @returns exit code
 * @throws {UsageError} for an unknown arena or an invalid path
 * @throws {Error} when the database cannot be opened (e.g. the daemon holds it)
 */
export function ls(
  config: Config,
  args: { arena: string; path?: string | undefined; io: CliIo },
  options: { json: boolean },
): number {
  const arena = config.arenas.find((a) => a.name === args.arena);
  if (arena === undefined) {
    const known = config.arenas.map((a) => a.name).join(", ") || "none";
    throw new UsageError(`unknown arena "${args.arena}" (configured: ${known})`);
  }
  const why = paths.problem(args.path ?? "");
  if (why !== null) throw new UsageError(`invalid path "${args.path}": ${why}`);
  const path = paths.parse(args.path ?? "");
  try {
    Deno.statSync(`${arena.workdir}/arena.db`);
  } catch {
    throw new Error(
      `Arena "${arena.name}" has no database yet in ${arena.workdir} (run the daemon once)`,
    );
  }
  const db = openArenaDatabase(arena.workdir, arena.name as ArenaName, { schemas: ARENA_SCHEMAS });
  try {
    const entries = db.read((tx) => listOrSelf(tx, path));
    if (entries === null) {
      throw new Error(`Cannot list "${arena.name}/${path}": no such file or directory`);
    }
    if (options.json) args.io.out(JSON.stringify(entries.map(listedToJson), null, 2) + "\n");
    else for (const e of entries) args.io.out(line(e) + "\n");
    return 0;
  } finally {
    db.close();
  }
}

function listOrSelf(tx: Parameters<typeof listDir>[0], path: Path): Listed[] | null {
  if (path === paths.ROOT) return listDir(tx, path);
  const self = listPath(tx, path);
  if (self === null) return null;
  return self.kind === "dir" ? listDir(tx, path) : [self];
}
