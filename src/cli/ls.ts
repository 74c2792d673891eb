/**
 * `realize ls ARENA [PATH]`: what is in an arena directory — local and remote files,
 * which peer has which version, how much is cached. Asks the daemon when it runs
 * (`GET /arenas/:arena/ls`, see `control.ts`); otherwise reads the arena database
 * directly, with the same output.
 *
 * @module
 */

import type { Config } from "../config/mod.ts";
import { openArenaDatabase } from "../storage/mod.ts";
import { type ArenaName, type Path, paths } from "../types/mod.ts";
import {
  ARENA_SCHEMAS,
  listDir,
  type Listed,
  type ListedJson,
  listedToJson,
  listPath,
} from "../unreal/mod.ts";
import { humanBytes } from "./format.ts";
import type { CliIo } from "./io.ts";
import { UsageError } from "./io.ts";

type VersionJson = { size: number; mtime: string; hash: string | null };

function versions(e: ListedJson): string {
  const short = (h: string | null) => h === null ? "pending" : h.slice(0, 8);
  const shown = e.remote?.hash ?? null;
  const parts = e.local === null ? [] : [`local:${short(e.local.hash)}`];
  for (const p of e.peers) {
    const mark = e.remote !== null && p.peer === e.remote.peer && p.hash === shown ? "*" : "";
    parts.push(`${mark}${p.peer}:${short(p.hash)}`);
  }
  return parts.join(" ");
}

function line(e: ListedJson): string {
  if (e.kind === "dir") {
    return `${"dir".padEnd(22)}${"".padStart(11)}  ${"".padEnd(19)}  ${e.name}/`;
  }
  const v: VersionJson = e.local ?? e.remote!;
  const mtime = v.mtime.slice(0, 19).replace("T", " ");
  return `${e.status.padEnd(22)}${humanBytes(v.size).padStart(11)}  ${mtime}  ${e.name}  ${
    versions(e)
  }`;
}

/**
 * Prints a listing: one line per entry, or the entries as JSON.
 *
 * @param entries the entries, as JSON (from the database or from the daemon)
 * @param io where to print
 * @param options `json`: machine-readable output
 */
export function printListing(
  entries: readonly ListedJson[],
  io: CliIo,
  options: { json: boolean },
): void {
  if (options.json) io.out(JSON.stringify(entries, null, 2) + "\n");
  else for (const e of entries) io.out(line(e) + "\n");
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
    printListing(entries.map(listedToJson), args.io, options);
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
