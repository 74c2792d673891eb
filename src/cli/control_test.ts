import assert from "node:assert/strict";
import type { Status } from "../control/mod.ts";
import { serveControl } from "../control/mod.ts";
import { FakeDaemonApi } from "../control/fake_api.ts";
import { configure } from "../util/mod.ts";
import { controlSocket } from "./control.ts";
import { formatMarks, formatPeers, formatStatus, humanDuration } from "./format.ts";
import { captureIo, EXIT, runCli } from "./mod.ts";

Deno.test("controlSocket(): --socket, --config, $REALIZE_CONFIG, then the default", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.toml`, `[control]\nsocket = "a.sock"\n`);
    await Deno.writeTextFile(`${dir}/b.toml`, `[control]\nsocket = "/run/b.sock"\n`);
    const io = captureIo({ REALIZE_CONFIG: `${dir}/b.toml`, XDG_RUNTIME_DIR: "/xdg" });
    const config = `${dir}/a.toml`;
    assert.equal(await controlSocket({ socket: "/s.sock", config }, io), "/s.sock");
    assert.equal(await controlSocket({ config }, io), `${dir}/a.sock`);
    assert.equal(await controlSocket({}, io), "/run/b.sock");
    const bare = captureIo({ XDG_RUNTIME_DIR: "/xdg" });
    assert.equal(await controlSocket({}, bare), "/xdg/realize/control.sock");
    await Deno.writeTextFile(`${dir}/c.toml`, `[network]\n`);
    assert.equal(
      await controlSocket({ config: `${dir}/c.toml` }, bare),
      "/xdg/realize/control.sock",
    );
    await assert.rejects(() => controlSocket({ config: `${dir}/none.toml` }, bare), /cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const STATUS: Status = {
  version: "1.2.3",
  pid: 42,
  uptimeSeconds: 3725,
  fuse: { mountpoint: "/mnt/realize", mounted: true, passthrough: true },
  listening: "0.0.0.0:9771",
  arenas: [
    {
      name: "docs",
      state: "watching",
      files: 10,
      pending: 5,
      cacheBytes: 1536,
      cacheQuota: 10 * 1024 ** 3,
      mark: "own",
      folder: { mountpoint: "/home/me/docs", mounted: true },
    },
    {
      name: "photos/2024",
      state: "remote-only",
      files: 0,
      pending: 0,
      cacheBytes: 0,
      cacheQuota: null,
      mark: "watch",
      folder: null,
    },
  ],
  peers: [
    {
      name: "laptop",
      address: "laptop.lan:9771",
      connected: true,
      direction: "outgoing",
      arenas: ["docs"],
      bytesSent: 0,
      bytesReceived: 0,
    },
    {
      name: "phone",
      address: null,
      connected: false,
      direction: null,
      arenas: [],
      bytesSent: 0,
      bytesReceived: 0,
    },
  ],
};

Deno.test("formatStatus() prints a summary and a progress-like line per arena", () => {
  assert.equal(
    formatStatus(STATUS),
    [
      "realize 1.2.3 (pid 42, up 1h 02m)",
      "listening: 0.0.0.0:9771",
      "fuse: /mnt/realize (mounted, passthrough)",
      "peers: 1 of 2 connected (laptop)",
      "arenas:",
      "  docs         watching     [##########----------]  50%  10 files, 5 pending, " +
      "cache 1.5 KiB of 10.0 GiB, mark own, folder /home/me/docs",
      "  photos/2024  remote-only  [####################] 100%  0 files, 0 pending, " +
      "cache 0 B, mark watch",
      "",
    ].join("\n"),
  );
  const unmounted = { ...STATUS.arenas[0]!, folder: { mountpoint: "/m", mounted: false } };
  assert.match(
    formatStatus({ ...STATUS, arenas: [unmounted] }),
    /mark own, folder \/m \(not mounted: realize mountall\)\n/,
  );
  const idle = formatStatus({ ...STATUS, fuse: null, listening: null, arenas: [], peers: [] });
  assert.match(idle, /^listening: no\nfuse: off\npeers: none configured\narenas: none\n$/m);
});

Deno.test("formatPeers() and formatMarks() print one line each", () => {
  assert.equal(
    formatPeers(STATUS.peers),
    "laptop: connected (laptop.lan:9771)\nphone: disconnected (no address)\n",
  );
  assert.equal(formatPeers([]), "No peers configured\n");
  assert.equal(
    formatMarks("docs", [
      { path: "", mark: "watch", explicit: false },
      { path: "a", mark: "own", explicit: true },
      { path: "a/b", mark: "own", explicit: false },
    ]),
    "docs: watch (default)\na: own\na/b: own (inherited)\n",
  );
  assert.equal(formatMarks("docs", [{ path: "", mark: "keep", explicit: true }]), "docs: keep\n");
});

Deno.test("humanDuration() picks two units", () => {
  assert.deepEqual([0, 59, 60, 3599, 3600, 86399, 86400 * 3 + 3600].map(humanDuration), [
    "0s",
    "59s",
    "1m 00s",
    "59m 59s",
    "1h 00m",
    "23h 59m",
    "3d 01h",
  ]);
});

Deno.test("runCli() client commands: usage errors exit 2 before any connection", async () => {
  const cases: [string[], RegExp][] = [
    [["status", "extra"], /^realize: unexpected argument "extra"\n$/],
    [["peer", "connect"], /^realize: missing arguments \(usage: realize peer connect NAME\)\n$/],
    [["peer", "connect", "a", "b"], /^realize: unexpected argument "b"\n$/],
    [["mark", "get"], /^realize: missing arguments/],
    [["mark", "set", "own"], /^realize: missing arguments/],
    [
      ["mark", "set", "mine", "docs"],
      /^realize: invalid mark "mine" \(expected watch, keep or own\)/,
    ],
    [["mark", "clear", "docs", "../up"], /^realize: invalid path "\.\.\/up": /],
    [["mark", "get", ""], /^realize: empty ARENA\n$/],
    [["peer", "disconnect", ""], /^realize: empty NAME\n$/],
  ];
  for (const [args, pattern] of cases) {
    const io = captureIo();
    const code = await runCli([...args, "--socket", "/nonexistent/control.sock"], io);
    assert.equal(code, EXIT.usage, args.join(" "));
    assert.match(io.stderr.join(""), pattern, args.join(" "));
  }
});

Deno.test("runCli() client commands against a served fake, in process", async () => {
  const previous = configure({ write: () => {} });
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/control.sock`;
  const api = new FakeDaemonApi({ peers: [{ name: "laptop" }], arenas: [{ name: "docs" }] });
  try {
    await using _server = await serveControl({ socket, api });
    const run = async (...args: string[]) => {
      const io = captureIo();
      const code = await runCli([...args, "--socket", socket], io);
      return { code, out: io.stdout.join(""), err: io.stderr.join("") };
    };
    assert.deepEqual(await run("peer", "connect", "laptop"), {
      code: 0,
      out: "OK Connecting to peer: laptop\n",
      err: "",
    });
    assert.equal((await run("peers")).out, "laptop: connected (no address)\n");
    const unknown = await run("peer", "disconnect", "nobody");
    assert.deepEqual(unknown, { code: 1, out: "", err: 'realize: error: Unknown peer "nobody"\n' });
    assert.equal(
      (await run("mark", "set", "keep", "docs")).out,
      "OK Arena mark of docs set to keep\n",
    );
    assert.equal((await run("mark", "get", "docs")).out, "docs: keep\n");
  } finally {
    configure(previous);
    await Deno.remove(dir, { recursive: true });
  }
});
