/**
 * Checks of a parsed configuration against the world: directories on disk and WebCrypto.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { lineOf, Reader } from "./_reader.ts";
import { ConfigError } from "./error.ts";
import { formatKeyPath } from "./toml_positions.ts";

import type { ArenaConfig, Config } from "./types.ts";

/**
 * Checks the directories of every arena, as the daemon needs them at start-up:
 * - `datadir` exists, is a directory and can be listed (`Deno.readDirSync`);
 * - `workdir`, when it exists, is a directory (the daemon creates it when missing);
 * - `workdir` is not `datadir` nor inside it, comparing real paths (symbolic links
 *   resolved); `datadir` inside `workdir` is fine;
 * - `workdir` (or, when missing, its nearest existing parent) is on the same device as
 *   `datadir`, so files move between them by renaming;
 * - `mountpoint` is not inside `datadir` (the overlay would contain itself) and holds
 *   neither `datadir` nor `workdir` (the overlay would hide them).
 *
 * Synchronous: it runs once at start-up, before anything else.
 *
 * @param config a configuration from `parseConfig`
 * @throws {ConfigError} for the first problem, at the line of the key concerned
 */
export function checkConfigDirs(config: Config): void {
  config.arenas.forEach((arena, i) => checkArenaDirs(config, arena, i));
}

/**
 * Imports every peer's public key into WebCrypto, as the network layer will. Keys
 * from `parseConfig` already have the exact structure WebCrypto accepts, so this is a
 * second line of defence.
 *
 * @param config a configuration from `parseConfig`
 * @returns when every key imported
 * @throws {ConfigError} for the first key WebCrypto rejects
 */
export async function checkPeerKeys(config: Config): Promise<void> {
  const r = new Reader(config.source);
  for (const [i, peer] of config.peers.entries()) {
    r.label(["peer", i], `peer ${JSON.stringify(peer.name)}`);
    try {
      await crypto.subtle.importKey("spki", peer.pubkey.spki, "Ed25519", true, ["verify"]);
    } catch (e) {
      throw r.error(["peer", i, "pubkey"], "not an ED25519 public key (PEM SPKI)", { cause: e });
    }
  }
}

function checkArenaDirs(config: Config, arena: ArenaConfig, i: number): void {
  const fail = (key: "workdir" | "datadir" | "mountpoint", problem: string, cause?: unknown) => {
    return dirError(config, i, key, problem, cause);
  };
  const workStat = statOrError(arena.workdir);
  if (workStat instanceof Error && !(workStat instanceof Deno.errors.NotFound)) {
    throw fail("workdir", `cannot read workdir ${arena.workdir}: ${workStat.message}`, workStat);
  }
  if (!(workStat instanceof Error) && !workStat.isDirectory) {
    throw fail("workdir", `workdir is not a directory: ${arena.workdir}`);
  }
  if (arena.datadir === null) return;
  const data = arena.datadir;
  const dataStat = statOrError(data);
  if (dataStat instanceof Deno.errors.NotFound) throw fail("datadir", `datadir not found: ${data}`);
  if (dataStat instanceof Error) {
    throw fail("datadir", `datadir is not readable: ${data}`, dataStat);
  }
  try {
    // Listing, not just stat: this is what fails for a directory without read permission.
    for (const _ of Deno.readDirSync(data)) break;
  } catch (e) {
    if (e instanceof Deno.errors.NotADirectory) {
      throw fail("datadir", `datadir is not a directory: ${data}`, e);
    }
    throw fail("datadir", `datadir is not readable: ${data}`, e);
  }
  /** {@linkcode nearestExisting} of a path, from the directory `key` names. */
  const nearest = (key: "workdir" | "mountpoint", shown: string, path = shown) => {
    try {
      return nearestExisting(path);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw fail(key, `cannot resolve ${key} ${shown}: ${why}`, e);
    }
  };
  const existing = nearest("workdir", arena.workdir);
  const realData = Deno.realPathSync(data);
  const realWork = join(existing.real, ...existing.rest);
  if (isSameOrInside(realWork, realData)) {
    throw fail("workdir", `workdir must not be inside datadir (${realWork} is in ${realData})`);
  }
  const workDev = Deno.statSync(existing.real).dev;
  if (workDev !== dataStat.dev) {
    throw fail(
      "workdir",
      `workdir must be on the same device as datadir (${existing.real} is on device ` +
        `${workDev}, ${realData} on device ${dataStat.dev})`,
    );
  }
  if (arena.mountpoint === null) return;
  // Resolved from its parent: an overlay may be mounted there (even a stale one).
  const parent = nearest("mountpoint", arena.mountpoint, dirname(arena.mountpoint));
  const realMount = join(parent.real, ...parent.rest, basename(arena.mountpoint));
  if (isSameOrInside(realMount, realData)) {
    throw fail(
      "mountpoint",
      `mountpoint must not be inside datadir (${realMount} is in ${realData}): the overlay ` +
        `would contain itself`,
    );
  }
  for (const [name, real] of [["datadir", realData], ["workdir", realWork]] as const) {
    if (isSameOrInside(real, realMount)) {
      throw fail(
        "mountpoint",
        `mountpoint must not hold the ${name} (${real} is in ${realMount}): the overlay ` +
          `would hide it`,
      );
    }
  }
}

/** An error about a directory of `arena[i]`, e.g. `arena "docs": datadir not found: …`. */
function dirError(
  config: Config,
  i: number,
  key: "workdir" | "datadir" | "mountpoint",
  problem: string,
  cause: unknown,
): ConfigError {
  const path = ["arena", i, key];
  const location = {
    file: config.source.name,
    line: lineOf(config.source.lines, path),
    key: formatKeyPath(path),
    where: `arena ${JSON.stringify(config.arenas[i]!.name)}`,
  };
  return new ConfigError(location, problem, cause === undefined ? undefined : { cause });
}

/** Stats `path`, following links; returns the error when it cannot. */
function statOrError(path: string): Deno.FileInfo | Error {
  try {
    return Deno.statSync(path);
  } catch (e) {
    if (e instanceof Error) return e;
    throw e;
  }
}

/** The real path of the nearest existing ancestor of `path` (or itself), and the rest. */
function nearestExisting(path: string): { real: string; rest: string[] } {
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      return { real: Deno.realPathSync(current), rest };
    } catch (e) {
      const parent = dirname(current);
      if (!(e instanceof Deno.errors.NotFound) || parent === current) throw e;
      rest.unshift(basename(current));
      current = parent;
    }
  }
}

function isSameOrInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}
