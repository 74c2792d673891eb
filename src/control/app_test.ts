import assert from "node:assert/strict";
import { configure } from "../util/mod.ts";
import { ApiError } from "./api.ts";
import { BODY_BYTES_MAX, createApp, PATHS_PER_REQUEST_MAX } from "./app.ts";
import { FakeDaemonApi } from "./fake_api.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";

function fake(): FakeDaemonApi {
  return new FakeDaemonApi({
    peers: [{ name: "laptop", address: "laptop.lan:9771" }, { name: "phone" }],
    arenas: [
      { name: "docs", files: 10, pending: 2, listings: { "": [{ name: "a.txt" }] } },
      { name: "photos/2024", mark: "keep", listings: { "trip": [{ name: "1.jpg" }] } },
    ],
  });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json();
}

/** Captures `control` log lines while `fn` runs. */
async function captureLog(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const previous = configure({ write: (line) => void lines.push(line) });
  try {
    await fn();
  } finally {
    configure(previous);
  }
  return lines;
}

Deno.test("createApp() GET /health answers 200, or 503 naming failing checks", async () => {
  const api = fake();
  const app = createApp(api);
  const ok = await app.request("/health");
  assert.equal(ok.status, 200);
  assert.deepEqual(await json(ok), { ok: true, checks: api.checks });
  api.checks["db"] = { ok: false, detail: "arena.db of docs: disk I/O error" };
  const bad = await app.request("/health");
  assert.equal(bad.status, 503);
  const body = await json(bad);
  assert.equal(body.ok, false);
  assert.deepEqual(body.failing, ["db"]);
  assert.deepEqual(body.checks, api.checks);
});

Deno.test("createApp() GET /status and /peers answer the daemon's state", async () => {
  const app = createApp(fake());
  const status = await json(await app.request("/status"));
  assert.equal(status.version, "0.0.0-fake");
  assert.deepEqual((status.arenas as { name: string }[]).map((a) => a.name), [
    "docs",
    "photos/2024",
  ]);
  const peers = await json(await app.request("/peers"));
  assert.deepEqual(
    (peers.peers as { name: string; connected: boolean }[]).map((p) => [p.name, p.connected]),
    [["laptop", false], ["phone", false]],
  );
});

Deno.test("createApp() POST /peers/:name/connect|disconnect call the daemon", async () => {
  const api = fake();
  const app = createApp(api);
  const connect = await app.request("/peers/laptop/connect", { method: "POST" });
  assert.equal(connect.status, 202);
  assert.deepEqual(await json(connect), { ok: true, peer: "laptop" });
  assert.equal(api.peers()[0]!.connected, true);
  const disconnect = await app.request("/peers/laptop/disconnect", { method: "POST" });
  assert.equal(disconnect.status, 200);
  assert.equal(api.peers()[0]!.connected, false);
  const unknown = await app.request("/peers/nobody/connect", { method: "POST" });
  assert.equal(unknown.status, 404);
  assert.deepEqual(await json(unknown), { error: 'Unknown peer "nobody"' });
  const get = await app.request("/peers/laptop/connect");
  assert.equal(get.status, 404);
});

Deno.test("createApp() marks: GET, PUT and DELETE with repeated path parameters", async () => {
  const api = fake();
  const app = createApp(api);
  const arena = await json(await app.request("/arenas/docs/marks"));
  assert.deepEqual(arena, { arena: "docs", marks: [{ path: "", mark: "watch", explicit: false }] });
  const put = await app.request("/arenas/docs/marks?path=a&path=b%20c", {
    method: "PUT",
    body: JSON.stringify({ mark: "own" }),
  });
  assert.equal(put.status, 200);
  assert.deepEqual(await json(put), { arena: "docs", mark: "own", set: 2 });
  const got = await json(await app.request("/arenas/docs/marks?path=a/x&path=b c&path=z"));
  assert.deepEqual(got.marks, [
    { path: "a/x", mark: "own", explicit: false },
    { path: "b c", mark: "own", explicit: true },
    { path: "z", mark: "watch", explicit: false },
  ]);
  const del = await app.request("/arenas/docs/marks?path=a&path=z", { method: "DELETE" });
  assert.deepEqual(await json(del), { arena: "docs", cleared: 1 });
  assert.equal(api.calls.at(-1), "clearMarks docs a,z");
});

Deno.test("createApp() arena names with / work percent-encoded and plain", async () => {
  const api = fake();
  const app = createApp(api);
  for (const url of ["/arenas/photos%2F2024/marks", "/arenas/photos/2024/marks"]) {
    const body = await json(await app.request(`${url}?path=trip`));
    assert.equal(body.arena, "photos/2024", url);
    assert.deepEqual(body.marks, [{ path: "trip", mark: "keep", explicit: false }]);
  }
  const ls = await json(await app.request("/arenas/photos%2F2024/ls?path=trip"));
  assert.deepEqual(ls, { arena: "photos/2024", path: "trip", entries: [{ name: "1.jpg" }] });
  const plain = await json(await app.request("/arenas/photos/2024/ls?path=trip"));
  assert.equal(plain.arena, "photos/2024");
});

Deno.test("createApp() GET /arenas/:arena/ls lists the root without a path", async () => {
  const app = createApp(fake());
  const root = await json(await app.request("/arenas/docs/ls"));
  assert.deepEqual(root, { arena: "docs", path: "", entries: [{ name: "a.txt" }] });
  const missing = await app.request("/arenas/docs/ls?path=nope");
  assert.equal(missing.status, 404);
  assert.match((await json(missing)).error as string, /Cannot list "docs\/nope"/);
});

Deno.test("createApp() error table: ApiError status, 400 bad input, 404 no route", async () => {
  const app = createApp(fake());
  const cases: [string, RequestInit, number, RegExp][] = [
    ["/arenas/nope/marks", {}, 404, /^Unknown arena "nope"$/],
    ["/arenas/docs/marks?path=../x", {}, 400, /^Invalid path "\.\.\/x"/],
    ["/arenas/docs/marks?paths=a", {}, 400, /^Unknown query parameter "paths" \(expected path\)$/],
    ["/arenas/docs/ls?path=a&path=b", {}, 400, /^Too many paths: 2 \(at most 1\)$/],
    ["/arenas/docs/marks", { method: "PUT", body: "{mark:" }, 400, /^Invalid JSON body: /],
    ["/arenas/docs/marks", { method: "PUT", body: "[]" }, 400, /^Invalid body: expected/],
    ["/arenas/docs/marks", { method: "PUT", body: '{"mark":1}' }, 400, /^Invalid body/],
    ["/arenas/docs/marks", { method: "PUT", body: '{"mark":"own","x":1}' }, 400, /key "x"/],
    ["/arenas/docs/marks", { method: "PUT", body: '{"mark":"mine"}' }, 400, /^Invalid mark "mine"/],
    ["/nowhere", {}, 404, /^Not found: GET \/nowhere$/],
    ["/status", { method: "DELETE" }, 404, /^Not found: DELETE \/status$/],
  ];
  for (const [url, init, status, pattern] of cases) {
    const res = await app.request(url, init);
    assert.equal(res.status, status, url);
    const body = await json(res);
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.match(body.error as string, pattern, url);
  }
});

Deno.test("createApp() limits the body and the number of paths", async () => {
  const app = createApp(fake());
  const big = await app.request("/arenas/docs/marks", {
    method: "PUT",
    body: JSON.stringify({ mark: "own", pad: "x".repeat(BODY_BYTES_MAX) }),
  });
  assert.equal(big.status, 413);
  assert.match((await json(big)).error as string, /^Request body larger than 65536 bytes$/);
  const query = Array.from({ length: PATHS_PER_REQUEST_MAX + 1 }, (_, i) => `path=f${i}`);
  const many = await app.request(`/arenas/docs/marks?${query.join("&")}`);
  assert.equal(many.status, 400);
  assert.match((await json(many)).error as string, /^Too many paths: 1001 \(at most 1000\)$/);
});

Deno.test("createApp() answers 500 with the message and logs anything else", async () => {
  const api = fake();
  const app = createApp(api);
  const lines = await captureLog(async () => {
    api.failNext = new Error("Cannot read arena.db", { cause: new Error("disk I/O error") });
    const res = await app.request("/status");
    assert.equal(res.status, 500);
    assert.deepEqual(await json(res), { error: "Cannot read arena.db: disk I/O error" });
    api.failNext = new ApiError(409, 'Peer "laptop" is busy');
    const conflict = await app.request("/peers/laptop/disconnect", { method: "POST" });
    assert.equal(conflict.status, 409);
    assert.deepEqual(await json(conflict), { error: 'Peer "laptop" is busy' });
  });
  assert.deepEqual(lines, [
    "ERROR control: GET /status failed: Cannot read arena.db: disk I/O error",
  ]);
});

Deno.test("createApp() GET /metrics renders Prometheus text 0.0.4", async () => {
  const api = fake();
  api.connect("laptop");
  api.extraMetrics.push({
    name: "realize_odd",
    help: "Help with a \\ and a\nnewline.",
    type: "counter",
    samples: [{ labels: { path: 'a "b"\\c\nd' }, value: NaN }, { labels: {}, value: Infinity }],
  });
  const res = await createApp(api).request("/metrics");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  assert.equal(
    await res.text(),
    [
      "# HELP realize_peer_connected Whether a peer is connected (1) or not (0).",
      "# TYPE realize_peer_connected gauge",
      'realize_peer_connected{peer="laptop"} 1',
      'realize_peer_connected{peer="phone"} 0',
      "# HELP realize_arena_files Files known in an arena.",
      "# TYPE realize_arena_files gauge",
      'realize_arena_files{arena="docs"} 10',
      'realize_arena_files{arena="photos/2024"} 0',
      "# HELP realize_odd Help with a \\\\ and a\\nnewline.",
      "# TYPE realize_odd counter",
      'realize_odd{path="a \\"b\\"\\\\c\\nd"} NaN',
      "realize_odd +Inf",
      "",
    ].join("\n"),
  );
});

Deno.test("createApp() over TCP without a token serves only /health and /metrics", async () => {
  const app = createApp(fake(), { tcp: true });
  assert.equal((await app.request("/health")).status, 200);
  assert.equal((await app.request("/metrics")).status, 200);
  for (const [url, method] of [["/status", "GET"], ["/peers/laptop/connect", "POST"]]) {
    const res = await app.request(url!, { method: method! });
    assert.equal(res.status, 403, url);
    assert.match((await json(res)).error as string, /only with a token/);
  }
  const withToken = await app.request("/status", { headers: { authorization: "Bearer x" } });
  assert.equal(withToken.status, 403);
});

Deno.test("createApp() over TCP with a token serves everything to its bearer only", async () => {
  const api = fake();
  const app = createApp(api, { tcp: true, token: "s3cret-token" });
  const good = { authorization: "Bearer s3cret-token" };
  for (const url of ["/status", "/health", "/metrics", "/arenas/docs/marks"]) {
    assert.equal((await app.request(url, { headers: good })).status, 200, url);
  }
  const bad: (Record<string, string> | undefined)[] = [
    undefined,
    { authorization: "Bearer s3cret-toke" },
    { authorization: "Bearer s3cret-token2" },
    { authorization: "Basic s3cret-token" },
    { authorization: "s3cret-token" },
    { authorization: "Bearer " },
  ];
  for (const headers of bad) {
    const res = await app.request("/status", headers === undefined ? {} : { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="realize"');
    assert.match((await json(res)).error as string, /^Unauthorized/);
  }
  for (const url of ["/health", "/metrics"]) {
    assert.equal((await app.request(url)).status, 401, `${url} needs the token too`);
  }
  assert.equal(api.calls.filter((c) => c === "status").length, 1);
  const put = await app.request("/arenas/docs/marks?path=a", {
    method: "PUT",
    headers: good,
    body: '{"mark":"keep"}',
  });
  assert.equal(put.status, 200);
  assert.throws(() => createApp(api, { tcp: true, token: "" }), TypeError);
});

Deno.test("createApp() on the UNIX socket needs no token", async () => {
  const app = createApp(fake(), { token: "unused" });
  assert.equal((await app.request("/status")).status, 200);
});
