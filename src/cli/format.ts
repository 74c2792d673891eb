/**
 * Human output of the control-endpoint clients (`realize status`, `peers`, `mark get`):
 * plain text built from the endpoint's JSON answers.
 *
 * @module
 */

import type { ArenaInfo, MarkInfo, PeerInfo, Status } from "../control/mod.ts";

/** Width of the progress bar of an arena in `realize status`. */
const BAR_WIDTH = 20;

/**
 * A byte count for humans, in binary units.
 *
 * @param bytes a count
 * @returns e.g. `13 B`, `1.5 KiB`, `10.0 GiB`
 */
export function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

/**
 * A duration for humans, to the second below an hour.
 *
 * @param seconds a duration
 * @returns e.g. `42s`, `3m 07s`, `5h 02m`, `2d 04h`
 */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${two(Math.floor(s / 3600) % 24)}h`;
}

/**
 * `1 path`, `2 paths`.
 *
 * @param n a count
 * @param word the singular
 * @returns the count and the word
 */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** `[##########----------]  50%`: how much of the arena is settled (not pending). */
function progress(a: ArenaInfo): string {
  const done = Math.max(0, a.files - a.pending);
  const ratio = a.files === 0 ? 1 : Math.min(1, done / a.files);
  const filled = Math.round(ratio * BAR_WIDTH);
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${pct}`;
}

function arenaLine(a: ArenaInfo, nameWidth: number, stateWidth: number): string {
  const cache = a.cacheQuota === null
    ? `cache ${humanBytes(a.cacheBytes)}`
    : `cache ${humanBytes(a.cacheBytes)} of ${humanBytes(a.cacheQuota)}`;
  const folder = a.folder === null
    ? ""
    : `, folder ${a.folder.mountpoint}${
      a.folder.mounted ? "" : " (not mounted: realize mountall)"
    }`;
  return `  ${a.name.padEnd(nameWidth)}  ${a.state.padEnd(stateWidth)}  ${progress(a)}  ` +
    `${plural(a.files, "file")}, ${a.pending} pending, ${cache}, mark ${a.mark}${folder}`;
}

/**
 * `realize status` for humans: the daemon, its listeners and peers, then one
 * progress-like line per arena.
 *
 * @param s the `/status` answer
 * @returns lines, each ending with a line feed
 */
export function formatStatus(s: Status): string {
  const connected = s.peers.filter((p) => p.connected).map((p) => p.name);
  const peers = s.peers.length === 0
    ? "none configured"
    : `${connected.length} of ${s.peers.length} connected` +
      (connected.length === 0 ? "" : ` (${connected.join(", ")})`);
  const fuse = s.fuse === null
    ? "off"
    : `${s.fuse.mountpoint} (${s.fuse.mounted ? "mounted" : "not mounted"}` +
      `${s.fuse.passthrough === true ? ", passthrough" : ""})`;
  const lines = [
    `realize ${s.version} (pid ${s.pid}, up ${humanDuration(s.uptimeSeconds)})`,
    `listening: ${s.listening ?? "no"}`,
    `fuse: ${fuse}`,
    `peers: ${peers}`,
  ];
  if (s.arenas.length === 0) lines.push("arenas: none");
  else {
    lines.push("arenas:");
    const nameWidth = Math.max(...s.arenas.map((a) => a.name.length));
    const stateWidth = Math.max(...s.arenas.map((a) => a.state.length));
    for (const a of s.arenas) lines.push(arenaLine(a, nameWidth, stateWidth));
  }
  return lines.map((l) => `${l}\n`).join("");
}

/**
 * `realize peers` for humans: `name: connected|disconnected (address)` per peer.
 *
 * @param peers the `/peers` answer
 * @returns lines, each ending with a line feed
 */
export function formatPeers(peers: readonly PeerInfo[]): string {
  if (peers.length === 0) return "No peers configured\n";
  return peers.map((p) =>
    `${p.name}: ${p.connected ? "connected" : "disconnected"} (${p.address ?? "no address"})\n`
  ).join("");
}

/**
 * `realize mark get` for humans: `path: mark` per path, ` (inherited)` when the mark
 * comes from a directory or the arena; the arena itself (path `""`) is shown by its
 * name, with ` (default)` when no mark was set on it.
 *
 * @param arena the arena's name
 * @param marks the `/arenas/:arena/marks` answer
 * @returns lines, each ending with a line feed
 */
export function formatMarks(arena: string, marks: readonly MarkInfo[]): string {
  return marks.map((m) => {
    const self = m.path === "";
    const how = m.explicit ? "" : self ? " (default)" : " (inherited)";
    return `${self ? arena : m.path}: ${m.mark}${how}\n`;
  }).join("");
}
