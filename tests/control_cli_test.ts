// The control clients as users run them: the real `realize` executable against a control
// socket served in this process over an in-memory daemon.
import assert from "node:assert/strict";
import { serveControl } from "../src/control/mod.ts";
import { FakeDaemonApi } from "../src/control/fake_api.ts";
import { configure } from "../src/util/mod.ts";
import { realize, tempDir } from "./helpers.ts";

const ENTRY = {
  name: "report.pdf",
  path: "docs/report.pdf",
  kind: "file",
  status: "remote 50%",
  local: null,
  remote: { peer: "laptop", size: 10, mtime: "2023-11-14T22:13:20Z", hash: "abcdefghijkl" },
  peers: [{ peer: "laptop", size: 10, mtime: "2023-11-14T22:13:20Z", hash: "abcdefghijkl" }],
  cached: { bytes: 5, size: 10, verified: false, area: "working" },
};

function fakeDaemon(): FakeDaemonApi {
  return new FakeDaemonApi({
    peers: [{ name: "laptop", address: "laptop.lan:9771" }, { name: "phone" }],
    arenas: [
      { name: "docs", files: 4, pending: 1, cacheBytes: 2048, listings: { "docs": [ENTRY] } },
      { name: "photos/2024", mark: "keep" },
    ],
  });
}

/** Serves a fake daemon on `socket` for the test; log lines are dropped. */
async function served(socket: string, api = fakeDaemon()) {
  const previous = configure({ write: () => {} });
  const server = await serveControl({ socket, api });
  return {
    api,
    async [Symbol.asyncDispose]() {
      await server.close();
      configure(previous);
    },
  };
}

Deno.test("realize status and peers print the daemon's state; --json prints its JSON", async () => {
  using tmp = tempDir();
  const socket = `${tmp.path}/control.sock`;
  await using _daemon = await served(socket);
  const status = await realize(["status", "--socket", socket]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^realize 0\.0\.0-fake \(pid \d+, up \d+s\)\n/);
  assert.match(status.stdout, /^peers: 0 of 2 connected$/m);
  assert.match(
    status.stdout,
    /^ {2}docs {9}watching {2}\[###############-----\] {2}75% {2}4 files/m,
  );
  assert.match(status.stdout, /^ {2}photos\/2024 {2}watching .* mark keep$/m);
  const json = await realize(["status", "--json", "--socket", socket]);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).arenas.map((a: { name: string }) => a.name), [
    "docs",
    "photos/2024",
  ]);
  const peers = await realize(["peers", "-s", socket]);
  assert.deepEqual([peers.code, peers.stdout, peers.stderr], [
    0,
    "laptop: disconnected (laptop.lan:9771)\nphone: disconnected (no address)\n",
    "",
  ]);
});

Deno.test("realize peer connect|disconnect NAME act on the daemon", async () => {
  using tmp = tempDir();
  const socket = `${tmp.path}/control.sock`;
  await using daemon = await served(socket);
  const connect = await realize(["peer", "connect", "laptop", "--socket", socket]);
  assert.deepEqual([connect.code, connect.stdout], [0, "OK Connecting to peer: laptop\n"]);
  assert.equal(daemon.api.peers()[0]!.connected, true);
  const disconnect = await realize(["peer", "disconnect", "--json", "laptop", "--socket", socket]);
  assert.equal(disconnect.code, 0, disconnect.stderr);
  assert.deepEqual(JSON.parse(disconnect.stdout), { ok: true, peer: "laptop" });
  assert.equal(daemon.api.peers()[0]!.connected, false);
  const unknown = await realize(["peer", "connect", "nobody", "--socket", socket]);
  assert.deepEqual([unknown.code, unknown.stdout, unknown.stderr], [
    1,
    "",
    'realize: error: Unknown peer "nobody"\n',
  ]);
});

Deno.test("realize mark get|set|clear on an arena with / in its name", async () => {
  using tmp = tempDir();
  const socket = `${tmp.path}/control.sock`;
  await using daemon = await served(socket);
  const s = ["--socket", socket];
  const set = await realize(["mark", "set", "own", "photos/2024", "trip", "trip/day 1", ...s]);
  assert.deepEqual([set.code, set.stdout, set.stderr], [0, "OK Mark own set on 2 paths\n", ""]);
  const get = await realize(["mark", "get", "photos/2024", "trip", "trip/day 1/x.jpg", "z", ...s]);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(get.stdout, "trip: own\ntrip/day 1/x.jpg: own (inherited)\nz: keep (inherited)\n");
  const arena = await realize(["mark", "get", "photos/2024", ...s]);
  assert.equal(arena.stdout, "photos/2024: keep (default)\n");
  const json = await realize(["mark", "get", "--json", "photos/2024", "trip", ...s]);
  assert.deepEqual(JSON.parse(json.stdout), {
    arena: "photos/2024",
    marks: [{ path: "trip", mark: "own", explicit: true }],
  });
  const clear = await realize(["mark", "clear", "photos/2024", "trip", "nothing-here", ...s]);
  assert.deepEqual([clear.code, clear.stdout], [0, "OK Marks cleared on 1 path\n"]);
  const setArena = await realize(["mark", "set", "watch", "photos/2024", ...s]);
  assert.equal(setArena.stdout, "OK Arena mark of photos/2024 set to watch\n");
  const clearArena = await realize(["mark", "clear", "photos/2024", ...s]);
  assert.equal(clearArena.stdout, "OK Arena mark of photos/2024 cleared\n");
  assert.deepEqual(daemon.api.calls.filter((c) => c.startsWith("setMarks")), [
    "setMarks photos/2024 trip,trip/day 1 own",
    "setMarks photos/2024  watch",
  ]);
  const unknown = await realize(["mark", "get", "nope", ...s]);
  assert.deepEqual([unknown.code, unknown.stderr], [1, 'realize: error: Unknown arena "nope"\n']);
  const usage = await realize(["mark", "set", "mine", "docs", ...s]);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr, 'realize: invalid mark "mine" (expected watch, keep or own)\n');
});

Deno.test("realize ls goes through the daemon when it runs", async () => {
  using tmp = tempDir();
  const socket = `${tmp.path}/control.sock`;
  await using daemon = await served(socket);
  const human = await realize(["ls", "--socket", socket, "docs", "docs"]);
  assert.equal(human.code, 0, human.stderr);
  assert.equal(
    human.stdout,
    "remote 50%                   10 B  2023-11-14 22:13:20  report.pdf  *laptop:abcdefgh\n",
  );
  const json = await realize(["ls", "--json", "--socket", socket, "docs", "docs"]);
  assert.deepEqual(JSON.parse(json.stdout), [ENTRY]);
  assert.deepEqual(daemon.api.calls, ["list docs docs", "list docs docs"]);
});

Deno.test("clients find the socket via --config, $REALIZE_CONFIG, $XDG_RUNTIME_DIR", async () => {
  using tmp = tempDir();
  const configured = `${tmp.path}/configured.sock`;
  const config = `${tmp.path}/realize.toml`;
  await Deno.writeTextFile(config, `[control]\nsocket = "configured.sock"\n`);
  const xdg = `${tmp.path}/xdg`;
  await using _a = await served(configured);
  await using _b = await served(`${xdg}/realize/control.sock`, new FakeDaemonApi());
  const env = { XDG_RUNTIME_DIR: xdg, REALIZE_CONFIG: "" };
  const viaConfig = await realize(["peers", "--config", config], { env });
  assert.match(viaConfig.stdout, /^laptop: /, viaConfig.stderr);
  const viaEnv = await realize(["peers"], { env: { ...env, REALIZE_CONFIG: config } });
  assert.match(viaEnv.stdout, /^laptop: /, viaEnv.stderr);
  const viaDefault = await realize(["peers"], { env });
  assert.deepEqual([viaDefault.code, viaDefault.stdout], [0, "No peers configured\n"]);
});

Deno.test("the clients exit 10 when realize is not running", async () => {
  using tmp = tempDir();
  const socket = `${tmp.path}/control.sock`;
  for (const args of [["status"], ["peers"], ["peer", "connect", "laptop"], ["mark", "get", "x"]]) {
    const r = await realize([...args, "--socket", socket]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [
      10,
      "",
      `realize is not running (no control socket at ${socket})\n`,
    ], args.join(" "));
  }
});
