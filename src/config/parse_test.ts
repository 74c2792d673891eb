import assert from "node:assert/strict";
import { assertConfigError, newPublicKeyPem, TEST_ENV } from "./_testing.ts";
import { KeyError } from "../keys/mod.ts";
import { parseConfig } from "./parse.ts";
import type { Config } from "./types.ts";

const FILE = "/etc/realize/config.toml";
const KEY_A = await newPublicKeyPem();
const KEY_B = await newPublicKeyPem();

/** Parses the lines of a file named `config.toml` in `/etc/realize`. */
function parse(...lines: string[]): Config {
  return parseConfig(lines.join("\n"), "config.toml", { env: TEST_ENV, cwd: "/etc/realize" });
}

/** Asserts that the lines fail with exactly `message` (and `key`, when given). */
function rejects(lines: string[], message: string, key?: string): void {
  assertConfigError(() => parse(...lines), message, key);
}

/** A minimal valid arena. */
function arena(name: string, workdir = `/w/${name}`): string[] {
  return ["[[arena]]", `name = "${name}"`, `workdir = "${workdir}"`];
}

/** A valid peer with a key, on three lines (the PEM with `\n` escapes). */
function peer(name: string, pem = KEY_A.pem): string[] {
  return ["[[peer]]", `name = "${name}"`, `pubkey = ${JSON.stringify(pem)}`];
}

Deno.test("parseConfig() reads every key of a full configuration", () => {
  const config = parseConfig(
    [
      "[network]",
      'address = "[::]:9771"',
      'privkey = "/var/lib/realize/peer.key"',
      "[control]",
      'socket = "/run/realize/control.sock"',
      'http = "127.0.0.1:9772"',
      'token_file = "/etc/realize/control.token"',
      "[cache]",
      'db = "/var/lib/realize/cache.db"',
      "[[arena]]",
      'name = "docs"',
      'workdir = "/store/.docs.realize"',
      'datadir = "/store/docs"',
      'mountpoint = "/home/me/docs"',
      'mark = "own"',
      'disk_usage = { max = "10G", leave = "10%" }',
      "max_parallel_hashers = 2",
      'debounce = "500ms"',
      'history = { max_entries = 500, max_age = "2h" }',
      "[[peer]]",
      'name = "laptop"',
      'address = "laptop.lan:9771"',
      `pubkey = """${KEY_A.pem}"""`,
      'batch_rate_limit = "2M"',
    ].join("\n"),
    FILE,
    { env: TEST_ENV },
  );
  assert.equal(config.file, FILE);
  assert.deepEqual(config.network, {
    address: { host: "::", port: 9771 },
    privkey: "/var/lib/realize/peer.key",
  });
  assert.deepEqual(config.control, {
    socket: "/run/realize/control.sock",
    http: { host: "127.0.0.1", port: 9772 },
    tokenFile: "/etc/realize/control.token",
  });
  assert.deepEqual(config.cache, { db: "/var/lib/realize/cache.db" });
  assert.deepEqual(config.arenas, [{
    name: "docs",
    workdir: "/store/.docs.realize",
    datadir: "/store/docs",
    mountpoint: "/home/me/docs",
    mark: "own",
    diskUsage: {
      max: { kind: "bytes", bytes: 10 * 1024 ** 3 },
      leave: { kind: "percent", percent: 10 },
    },
    maxParallelHashers: 2,
    debounceMs: 500,
    history: { maxEntries: 500, maxAgeMs: 7_200_000 },
  }]);
  assert.equal(config.peers.length, 1);
  const p = config.peers[0]!;
  assert.equal(p.name, "laptop");
  assert.deepEqual(p.address, { host: "laptop.lan", port: 9771 });
  assert.deepEqual(p.pubkey.raw, KEY_A.raw);
  assert.equal(p.pubkey.spki.length, 44);
  assert.equal(p.batchRateLimitBytesPerSec, 2 * 1024 * 1024);
  assert.equal(config.source.name, FILE);
  assert.equal(config.source.lines.get("peer[0].pubkey"), 23);
  assert.equal(config.source.lines.get("arena[0].history.max_age"), 19);
});

Deno.test("parseConfig() applies defaults to an empty file", () => {
  const config = parse("");
  assert.deepEqual(config.network, { address: null, privkey: null });
  assert.deepEqual(config.control, {
    socket: "/run/user/1000/realize/control.sock",
    http: null,
    tokenFile: null,
  });
  assert.deepEqual(config.cache, { db: "/etc/realize/cache.db" });
  assert.deepEqual(config.arenas, []);
  assert.deepEqual(config.peers, []);
});

Deno.test("parseConfig() applies the defaults of an arena and a peer", () => {
  const config = parse(...arena("docs"), "[[peer]]", 'name = "b"', `pubkey = """${KEY_A.pem}"""`);
  assert.deepEqual(config.arenas[0], {
    name: "docs",
    workdir: "/w/docs",
    datadir: null,
    mountpoint: null,
    mark: "watch",
    diskUsage: null,
    maxParallelHashers: 4,
    debounceMs: 3000,
    history: { maxEntries: 100_000, maxAgeMs: 30 * 86_400_000 },
  });
  assert.equal(config.peers[0]!.address, null);
  assert.equal(config.peers[0]!.batchRateLimitBytesPerSec, null);
});

Deno.test("parseConfig() resolves relative paths against the config file's directory", () => {
  const lines = [
    "[network]",
    'privkey = "keys/peer.key"',
    "[control]",
    'socket = "run/control.sock"',
    'token_file = "../token"',
    "[cache]",
    'db = "a.db"',
    "[[arena]]",
    'name = "one"',
    'workdir = "one-a"',
    'datadir = "./one-a/data"',
    'mountpoint = "mnt/one"',
  ];
  const config = parseConfig(lines.join("\n"), "conf/b.toml", { env: TEST_ENV, cwd: "/srv" });
  assert.equal(config.file, "/srv/conf/b.toml");
  assert.equal(config.network.privkey, "/srv/conf/keys/peer.key");
  assert.equal(config.control.socket, "/srv/conf/run/control.sock");
  assert.equal(config.control.tokenFile, "/srv/token");
  assert.equal(config.cache.db, "/srv/conf/a.db");
  assert.equal(config.arenas[0]!.workdir, "/srv/conf/one-a");
  assert.equal(config.arenas[0]!.datadir, "/srv/conf/one-a/data");
  assert.equal(config.arenas[0]!.mountpoint, "/srv/conf/mnt/one");
});

Deno.test("parseConfig() uses defaultControlSocket() for control.socket", () => {
  const at = (env: { XDG_RUNTIME_DIR?: string; uid: number }) =>
    parseConfig("", "c.toml", { env, cwd: "/" }).control.socket;
  assert.equal(at({ XDG_RUNTIME_DIR: "/run/user/7", uid: 7 }), "/run/user/7/realize/control.sock");
  assert.equal(at({ uid: 0 }), "/run/realize/control.sock");
  assert.equal(at({ uid: 7 }), "/tmp/realize-7/control.sock");
});

Deno.test("parseConfig() loads the Rust peer's example configuration unchanged", () => {
  // upstream.md §2.9, from manual_tests/a.toml, keys verbatim.
  const text = `[[arena]]
name = "one"
workdir = "one-a"
datadir = "one-a/data"
disk_usage.max = "16M"
disk_usage.leave = "10%"

[[peer]]
name = "b"
address = "127.0.0.1:8001"
pubkey = """
-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=
-----END PUBLIC KEY-----
"""

[cache]
db = "a.db"
`;
  const config = parseConfig(text, "/tmp/manual/a.toml", { env: TEST_ENV });
  assert.deepEqual(config.cache, { db: "/tmp/manual/a.db" });
  assert.equal(config.arenas.length, 1);
  const a = config.arenas[0]!;
  assert.equal(a.name, "one");
  assert.equal(a.workdir, "/tmp/manual/one-a");
  assert.equal(a.datadir, "/tmp/manual/one-a/data");
  assert.deepEqual(a.diskUsage, {
    max: { kind: "bytes", bytes: 16 * 1024 * 1024 },
    leave: { kind: "percent", percent: 10 },
  });
  const p = config.peers[0]!;
  assert.equal(p.name, "b");
  assert.deepEqual(p.address, { host: "127.0.0.1", port: 8001 });
  assert.equal(p.pubkey.raw.toBase64(), "ZvriEx8hZEAildpfeifrv0Z5xED/kkK7wzT5Gel+w/w=");
});

Deno.test("parseConfig() loads a Rust-format configuration with a fresh WebCrypto key", () => {
  const text = [
    "peer = []",
    "[[arena]]",
    'name = "one"',
    'workdir = "one-b"',
    'datadir = "one-b/data"',
    "max_parallel_hashers = 0",
    "debounce = 1.5",
    "[cache]",
    'db = "b.db"',
  ].join("\n");
  const config = parseConfig(text, "/x/b.toml", { env: TEST_ENV });
  assert.deepEqual(config.peers, []);
  assert.equal(config.arenas[0]!.maxParallelHashers, null);
  assert.equal(config.arenas[0]!.debounceMs, 1500);
  const withPeer = parse(
    "[[peer]]",
    'name = "c"',
    'address = "[::1]:8002"',
    `pubkey = """\n${KEY_B.pem}"""`,
    "batch_rate_limit = 1048576",
  );
  assert.deepEqual(withPeer.peers[0]!.pubkey.raw, KEY_B.raw);
  assert.deepEqual(withPeer.peers[0]!.address, { host: "::1", port: 8002 });
  assert.equal(withPeer.peers[0]!.batchRateLimitBytesPerSec, 1048576);
});

Deno.test("parseConfig() accepts arenas and peers as arrays of inline tables", () => {
  const config = parse(
    'arena = [{ name = "a", workdir = "/w/a" }, { name = "b", workdir = "/w/b" }]',
    `peer = [{ name = "p", pubkey = """${KEY_A.pem}""" }]`,
  );
  assert.deepEqual(config.arenas.map((a) => a.name), ["a", "b"]);
  assert.deepEqual(config.peers.map((p) => p.name), ["p"]);
});

Deno.test("parseConfig() treats batch_rate_limit ≤ 0 as no limit", () => {
  for (const value of ["0", "-1", '"0"', '"0K"']) {
    const config = parse(...peer("p"), `batch_rate_limit = ${value}`);
    assert.equal(config.peers[0]!.batchRateLimitBytesPerSec, null, value);
  }
  const config = parse(...peer("p"), 'batch_rate_limit = "1.5k"');
  assert.equal(config.peers[0]!.batchRateLimitBytesPerSec, 1536);
});

Deno.test("parseConfig() reports TOML syntax errors with their line", () => {
  rejects(["[network]", "address = ", ""], "config.toml:2: invalid value");
  rejects(
    [...arena("a"), 'name = "b"'],
    "config.toml:4: trying to redefine an already defined table or value",
  );
});

Deno.test("parseConfig() rejects an unknown key with its line", () => {
  rejects(["", "colour = 1"], "config.toml:2: colour: unknown key", "colour");
  rejects(["[network]", "port = 9771"], "config.toml:2: network.port: unknown key");
  rejects(["[control]", "[control.sub]"], "config.toml:2: control.sub: unknown key");
  rejects(["[cache]", "dir = 'x'"], "config.toml:2: cache.dir: unknown key");
  rejects(
    [...arena("docs"), "", 'colour = "blue"'],
    'config.toml:5: arena "docs": colour: unknown key',
    "arena[0].colour",
  );
  rejects(
    [...arena("a"), ...arena("b"), "[[arena]]", 'workdir = "/w/c"', "colour = 1"],
    "config.toml:9: arena[2].colour: unknown key",
    "arena[2].colour",
  );
  rejects(
    [...peer("laptop"), "rate = 5"],
    'config.toml:4: peer "laptop": rate: unknown key',
    "peer[0].rate",
  );
});

Deno.test("parseConfig() rejects an unknown key in an inline or dotted table", () => {
  rejects(
    [...arena("docs"), 'disk_usage = { max = "1G", lave = "5%" }'],
    'config.toml:4: arena "docs": disk_usage.lave: unknown key',
    "arena[0].disk_usage.lave",
  );
  rejects(
    [...arena("docs"), 'disk_usage.max = "1G"', 'disk_usage.min = "1G"'],
    'config.toml:5: arena "docs": disk_usage.min: unknown key',
  );
  rejects(
    [...arena("docs"), "[arena.disk_usage]", 'max = "1G"', '"odd key" = 1'],
    'config.toml:6: arena "docs": disk_usage."odd key": unknown key',
  );
});

Deno.test("parseConfig() rejects values of the wrong type", () => {
  rejects(["network = 5"], "config.toml:1: network: expected a table, got integer");
  rejects(["[arena]", 'name = "a"'], "config.toml:1: arena: expected [[arena]] tables, got table");
  rejects(["peer = [1]"], "config.toml:1: peer[0]: expected a table, got integer");
  rejects(
    ["[[arena]]", 'name = "a"', "workdir = 5"],
    'config.toml:3: arena "a": workdir: expected a string, got integer',
    "arena[0].workdir",
  );
  rejects(
    ["[[arena]]", "name = true"],
    "config.toml:2: arena[0].name: expected a string, got boolean",
  );
  rejects(
    [...arena("a"), 'max_parallel_hashers = "4"'],
    'config.toml:4: arena "a": max_parallel_hashers: expected an integer, got string',
  );
  rejects(
    [...arena("a"), "max_parallel_hashers = 2.5"],
    'config.toml:4: arena "a": max_parallel_hashers: expected an integer, got float',
  );
  rejects(
    [...arena("a"), "debounce = true"],
    'config.toml:4: arena "a": debounce: expected a number of seconds or a string like ' +
      '"500ms", "1.5s" or "3m", got boolean',
  );
  rejects(
    [...arena("a"), 'disk_usage = "1G"'],
    'config.toml:4: arena "a": disk_usage: expected a table, got string',
  );
  rejects(
    [...arena("a"), "disk_usage.max = 1979-05-27"],
    'config.toml:4: arena "a": disk_usage.max: expected bytes, or a string like "10G" or ' +
      '"10%", got date',
  );
  rejects(
    [...peer("p"), "batch_rate_limit = [1]"],
    'config.toml:4: peer "p": batch_rate_limit: expected bytes per second, or a string like ' +
      '"2M", got array',
  );
  rejects(
    ["[control]", "http = 9772"],
    "config.toml:2: control.http: expected a string, got integer",
  );
});

Deno.test("parseConfig() reports a missing required key at its table's header", () => {
  rejects(
    ["", "[[arena]]", 'name = "docs"', 'datadir = "/d"'],
    'config.toml:2: arena "docs": workdir: required key is missing',
    "arena[0].workdir",
  );
  rejects(["[[arena]]", 'workdir = "/w"'], "config.toml:1: arena[0].name: required key is missing");
  rejects(
    [...peer("a"), "[[peer]]", 'name = "b"'],
    'config.toml:4: peer "b": pubkey: required key is missing',
    "peer[1].pubkey",
  );
  rejects(
    ["[[peer]]", `pubkey = """${KEY_A.pem}"""`],
    "config.toml:1: peer[0].name: required key is missing",
  );
  rejects(
    [...arena("a"), 'disk_usage = { leave = "1G" }'],
    'config.toml:4: arena "a": disk_usage.max: required key is missing',
  );
});

Deno.test("parseConfig() rejects duplicate and clashing arena names", () => {
  rejects(
    [...arena("docs", "/w/1"), ...arena("docs", "/w/2")],
    'config.toml:5: arena "docs": name: duplicate arena name, also arena "docs" at line 2',
    "arena[1].name",
  );
  rejects(
    [...arena("docs"), ...arena("photos"), ...arena("docs/x")],
    'config.toml:8: arena "docs/x": name: clashes with arena "docs" at line 2: ' +
      "one would contain the other",
  );
  rejects(
    [...arena("a/b/c"), ...arena("a/b")],
    'config.toml:5: arena "a/b": name: clashes with arena "a/b/c" at line 2: ' +
      "one would contain the other",
  );
  const ok = parse(...arena("docs"), ...arena("docs_office"), ...arena("docsx/y"));
  assert.equal(ok.arenas.length, 3);
});

Deno.test("parseConfig() rejects two arenas sharing a workdir", () => {
  rejects(
    [...arena("a", "/w/x"), ...arena("b", "/w/./x/")],
    'config.toml:6: arena "b": workdir: same workdir as arena "a" at line 3',
  );
});

Deno.test("parseConfig() rejects invalid arena and peer names", () => {
  rejects(
    arena("docs/"),
    'config.toml:2: arena "docs/": name: invalid arena name: must not end with /',
  );
  rejects(arena(""), 'config.toml:2: arena "": name: invalid arena name: must not be empty');
  rejects(
    arena("/abs"),
    'config.toml:2: arena "/abs": name: invalid arena name: must be relative (starts with /)',
  );
  rejects(
    arena("a//b"),
    'config.toml:2: arena "a//b": name: invalid arena name: has an empty component',
  );
  rejects(
    peer("my laptop"),
    'config.toml:2: peer "my laptop": name: invalid peer name: must be 1 to 64 letters, digits ' +
      "or . _ @ + -, starting with a letter or digit",
  );
});

Deno.test("parseConfig() rejects duplicate peer names and keys", () => {
  rejects(
    [...peer("a"), ...peer("a", KEY_B.pem)],
    'config.toml:5: peer "a": name: duplicate peer name, also at line 2',
    "peer[1].name",
  );
  rejects(
    [...peer("a"), ...peer("b", KEY_B.pem), ...peer("c")],
    'config.toml:9: peer "c": pubkey: same key as peer "a" at line 3',
    "peer[2].pubkey",
  );
});

Deno.test("parseConfig() rejects bad sizes", () => {
  const cases: [string, string][] = [
    ['"10X"', 'invalid size "10X": unknown unit "X", expected B, K, KB, M, MB, G, GB, T or TB'],
    ['"-5"', 'invalid size "-5": must not be negative'],
    ["-5", "invalid size -5: expected a whole number of bytes ≥ 0"],
    ['"150%"', 'invalid percentage "150%": must be more than 0% and at most 100%'],
    ['"G"', 'invalid size "G": expected a number and a unit, like "10G"'],
  ];
  for (const [value, problem] of cases) {
    rejects(
      [...arena("a"), `disk_usage = { max = ${value} }`],
      `config.toml:4: arena "a": disk_usage.max: ${problem}`,
    );
    rejects(
      [...arena("a"), 'disk_usage.max = "1G"', `disk_usage.leave = ${value}`],
      `config.toml:5: arena "a": disk_usage.leave: ${problem}`,
    );
  }
  rejects(
    [...peer("p"), 'batch_rate_limit = "10%"'],
    'config.toml:4: peer "p": batch_rate_limit: invalid size "10%": ' +
      "a percentage is not allowed here",
  );
  rejects(
    [...peer("p"), 'batch_rate_limit = "2X"'],
    'config.toml:4: peer "p": batch_rate_limit: invalid size "2X": unknown unit "X", expected B, ' +
      "K, KB, M, MB, G, GB, T or TB",
  );
});

Deno.test("parseConfig() rejects bad durations and hasher counts", () => {
  const cases: [string, string][] = [
    ['"3w"', 'invalid duration "3w": expected a number and a unit ms, s, m, h or d, like "500ms"'],
    ['"2h"', "must be at most 1 hour"],
    [
      '"fast"',
      'invalid duration "fast": expected a number and a unit ms, s, m, h or d, like "500ms"',
    ],
    ["-1", "invalid duration -1: expected a number of seconds ≥ 0"],
    ['"61m"', "must be at most 1 hour"],
  ];
  for (const [value, problem] of cases) {
    rejects(
      [...arena("a"), `debounce = ${value}`],
      `config.toml:4: arena "a": debounce: ${problem}`,
    );
  }
  rejects(
    [...arena("a"), 'history = { max_entries = 0, max_age = "30d" }'],
    'config.toml:4: arena "a": history.max_entries: expected a positive integer, got 0',
  );
  rejects(
    [...arena("a"), 'history = { max_age = "forever" }'],
    'config.toml:4: arena "a": history.max_age: invalid duration "forever": expected a number ' +
      'and a unit ms, s, m, h or d, like "500ms"',
  );
  rejects(
    [...arena("a"), 'history = { keep = "all" }'],
    'config.toml:4: arena "a": history.keep: unknown key',
  );
  for (const value of [-1, 1025]) {
    rejects(
      [...arena("a"), `max_parallel_hashers = ${value}`],
      `config.toml:4: arena "a": max_parallel_hashers: ` +
        `must be from 0 (no limit) to 1024, got ${value}`,
    );
  }
});

Deno.test("parseConfig() rejects bad marks", () => {
  for (const mark of ["Own", "delete", ""]) {
    rejects(
      [...arena("a"), `mark = "${mark}"`],
      `config.toml:4: arena "a": mark: invalid mark "${mark}": expected watch, keep or own`,
    );
  }
});

Deno.test("parseConfig() rejects a pubkey that is not an ED25519 PEM SPKI", async () => {
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", ec.publicKey));
  const ecPem = `-----BEGIN PUBLIC KEY-----\n${spki.toBase64()}\n-----END PUBLIC KEY-----`;
  const bad = [
    "garbage",
    ecPem,
    KEY_A.pem.replace("PUBLIC KEY", "PRIVATE KEY"),
    KEY_A.pem.replace(/\n(.)/, "\n!$1"),
    KEY_A.pem.replace(/\n(.{8})/, "\n"),
  ];
  for (const pem of bad) {
    const error = assertConfigError(
      () => parse("", "[[peer]]", 'name = "laptop"', `pubkey = """${pem}"""`),
      'config.toml:4: peer "laptop": pubkey: not an ED25519 public key (PEM SPKI)',
      "peer[0].pubkey",
    );
    assert.ok(error.cause instanceof KeyError, pem);
  }
});

Deno.test("parseConfig() rejects bad host:port addresses", () => {
  rejects(
    ["[network]", 'address = "localhost"'],
    'config.toml:2: network.address: invalid address "localhost": expected host:port',
    "network.address",
  );
  rejects(
    [...peer("p"), 'address = "::1:9771"'],
    'config.toml:4: peer "p": address: invalid address "::1:9771": put an IPv6 address in ' +
      'brackets, like "[::1]:9771"',
  );
  rejects(
    [...peer("p"), 'address = "laptop:0"'],
    'config.toml:4: peer "p": address: invalid address "laptop:0": port must be from 1 to 65535',
  );
  rejects(
    ["[control]", 'http = "127.0.0.1:99999"'],
    'config.toml:2: control.http: invalid address "127.0.0.1:99999": port must be from 0 to 65535',
  );
  const listen = parse("[network]", 'address = "127.0.0.1:0"');
  assert.deepEqual(listen.network.address, { host: "127.0.0.1", port: 0 });
});

Deno.test("parseConfig() rejects a mountpoint without a datadir", () => {
  rejects(
    [...arena("docs"), 'mountpoint = "/home/me/docs"'],
    'config.toml:4: arena "docs": mountpoint: requires datadir (the overlay\'s upper layer)',
    "arena[0].mountpoint",
  );
});

Deno.test("parseConfig() rejects empty paths and paths starting with ~", () => {
  rejects(["[cache]", 'db = ""'], "config.toml:2: cache.db: must not be empty");
  rejects(
    [...arena("a"), 'datadir = "~/docs"'],
    'config.toml:4: arena "a": datadir: ~ is not expanded: write the full path or one relative ' +
      "to the config",
  );
});
