import assert from "node:assert/strict";
import { configure, type LogSettings } from "../util/mod.ts";
import { ControlClient, ControlResponseError, DaemonNotRunningError } from "./client.ts";
import { FakeDaemonApi } from "./fake_api.ts";
import { readControlToken, serveControl } from "./serve.ts";

function fake(): FakeDaemonApi {
  return new FakeDaemonApi({
    peers: [{ name: "laptop", address: "laptop.lan:9771" }],
    arenas: [{ name: "docs" }, { name: "photos/2024", listings: { "": [{ name: "a.jpg" }] } }],
  });
}

/** Log lines of the test, instead of stderr; `restore()` puts the settings back. */
function captureLog(): { lines: string[]; restore(): void } & Disposable {
  const lines: string[] = [];
  const previous: LogSettings = configure({ write: (l) => void lines.push(l) });
  const restore = () => void configure(previous);
  return { lines, restore, [Symbol.dispose]: restore };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A socket file nobody listens on: a child process binds it and is killed. */
async function staleSocket(path: string): Promise<void> {
  const code = `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} });` +
    `console.log("ready"); setInterval(() => {}, 1000);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /ready/);
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  assert.equal((await Deno.lstat(path)).isSocket, true);
}

Deno.test("serveControl() makes a 0600 socket in a new 0700 dir; close removes it", async () => {
  using log = captureLog();
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/run/realize/control.sock`;
  try {
    const server = await serveControl({ socket, api: fake() });
    try {
      assert.equal((await Deno.lstat(socket)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dir}/run/realize`)).mode! & 0o777, 0o700);
      assert.equal(server.socket, socket);
      assert.equal(server.tcp, null);
      using client = new ControlClient(socket);
      assert.equal((await client.status()).version, "0.0.0-fake");
    } finally {
      await server.close();
      await server.close();
    }
    assert.equal(exists(socket), false);
    assert.deepEqual(log.lines, [
      `INFO control: listening on ${socket}`,
      `INFO control: closed ${socket}`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveControl() replaces a stale socket and refuses one in use", async () => {
  using log = captureLog();
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/control.sock`;
  try {
    await staleSocket(socket);
    await using server = await serveControl({ socket, api: fake() });
    assert.ok(log.lines.includes(`INFO control: removing stale control socket ${socket}`));
    await assert.rejects(
      () => serveControl({ socket, api: fake() }),
      new Error(`Cannot listen on "${socket}": control socket in use by a running realize`),
    );
    using client = new ControlClient(socket);
    assert.equal((await client.health()).ok, true, "the first server still answers");
    assert.equal(server.socket, socket);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveControl() refuses a path that is not a socket", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/control.sock`, "not a socket");
    await assert.rejects(
      () => serveControl({ socket: `${dir}/control.sock`, api: fake() }),
      /^Error: Cannot listen on ".*control\.sock": the file exists and is not a socket$/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/control.sock`), "not a socket");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlClient: peers, marks on photos/2024, ls, metrics, errors", async () => {
  using _log = captureLog();
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/control.sock`;
  const api = fake();
  try {
    await using _server = await serveControl({ socket, api });
    using client = new ControlClient(socket);
    assert.deepEqual(await client.connect("laptop"), { ok: true, peer: "laptop" });
    assert.equal((await client.peers()).peers[0]!.connected, true);
    await client.disconnect("laptop");
    assert.equal((await client.peers()).peers[0]!.connected, false);
    const many = Array.from({ length: 450 }, (_, i) => `dir/f${i}`);
    assert.equal((await client.setMarks("photos/2024", many, "own")).set, 450);
    assert.equal(api.calls.filter((c) => c.startsWith("setMarks")).length, 3, "in chunks");
    const got = await client.getMarks("photos/2024", ["dir/f449", "dir", ""]);
    assert.deepEqual(got.marks, [
      { path: "dir/f449", mark: "own", explicit: true },
      { path: "dir", mark: "watch", explicit: false },
      { path: "", mark: "watch", explicit: false },
    ]);
    assert.equal((await client.clearMarks("photos/2024", many)).cleared, 450);
    assert.deepEqual((await client.list("photos/2024", "")).entries, [{ name: "a.jpg" }]);
    assert.match(await client.metrics(), /^realize_peer_connected\{peer="laptop"\} 0$/m);
    api.checks["db"] = { ok: false, detail: "locked" };
    assert.deepEqual((await client.health()).failing, ["db"]);
    await assert.rejects(() => client.getMarks("nope", []), (e: unknown) => {
      assert.ok(e instanceof ControlResponseError);
      assert.equal(e.status, 404);
      assert.equal(e.message, 'Unknown arena "nope"');
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlClient: realize is not running (no socket, stale socket)", async () => {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/control.sock`;
  try {
    using client = new ControlClient(socket);
    await assert.rejects(() => client.status(), (e: unknown) => {
      assert.ok(e instanceof DaemonNotRunningError);
      assert.equal(e.message, `realize is not running (no control socket at ${socket})`);
      assert.equal(e.socket, socket);
      return true;
    });
    await staleSocket(socket);
    await assert.rejects(
      () => client.status(),
      new DaemonNotRunningError(socket, `nothing listens on ${socket}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveControl() TCP: /health and /metrics, or everything with the token", async () => {
  using _log = captureLog();
  const dir = await Deno.makeTempDir();
  try {
    const http = { host: "127.0.0.1", port: 0 };
    await using open = await serveControl({ socket: `${dir}/a.sock`, http, api: fake() });
    assert.ok(open.tcp !== null && open.tcp.port > 0);
    const base = `http://127.0.0.1:${open.tcp.port}`;
    assert.equal((await fetch(`${base}/health`)).status, 200);
    assert.equal((await (await fetch(`${base}/metrics`)).text()).startsWith("# HELP"), true);
    const forbidden = await fetch(`${base}/status`);
    assert.equal(forbidden.status, 403);
    await forbidden.body?.cancel();
    const token = "0123456789abcdef";
    await using locked = await serveControl({ socket: `${dir}/b.sock`, http, token, api: fake() });
    const lockedBase = `http://127.0.0.1:${locked.tcp!.port}`;
    const denied = await fetch(`${lockedBase}/status`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const allowed = await fetch(`${lockedBase}/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(allowed.status, 200);
    assert.equal((await allowed.json()).version, "0.0.0-fake");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serveControl() fails cleanly when the TCP address is taken", async () => {
  using _log = captureLog();
  const dir = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const socket = `${dir}/c.sock`;
  try {
    const http = { host: "127.0.0.1", port: taken.addr.port };
    await assert.rejects(
      () => serveControl({ socket, http, api: fake() }),
      new RegExp(`^Error: Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}$`),
    );
    assert.equal(exists(socket), false, "the UNIX listener was stopped");
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlClient fails a request that takes longer than its timeout", async () => {
  using _log = captureLog();
  const dir = await Deno.makeTempDir();
  const api = fake();
  const { promise: never, resolve } = Promise.withResolvers<void>();
  api.disconnect = () => never;
  try {
    await using _server = await serveControl({ socket: `${dir}/control.sock`, api });
    using client = new ControlClient(`${dir}/control.sock`, { timeoutMs: 100 });
    try {
      await assert.rejects(
        () => client.disconnect("laptop"),
        /^Error: Control request POST \/peers\/laptop\/disconnect timed out after 100 ms$/,
      );
    } finally {
      resolve(); // lets the server's close() finish the request
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readControlToken() reads the first line and refuses an empty file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/t`, "  abc123  \n");
    assert.equal(await readControlToken(`${dir}/t`), "abc123");
    await Deno.writeTextFile(`${dir}/e`, "\n");
    await assert.rejects(() => readControlToken(`${dir}/e`), /Invalid control token file/);
    await assert.rejects(() => readControlToken(`${dir}/none`), /Cannot read control token file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
