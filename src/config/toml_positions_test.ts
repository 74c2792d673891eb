import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { formatKeyPath, scanKeyLines } from "./toml_positions.ts";

/** Scans `text` after checking that smol-toml accepts it, as the loader does. */
function scan(text: string): Record<string, number> {
  parse(text);
  return Object.fromEntries(scanKeyLines(text));
}

Deno.test("formatKeyPath() joins keys with dots and indices with brackets", () => {
  assert.equal(formatKeyPath(["arena", 1, "disk_usage", "max"]), "arena[1].disk_usage.max");
  assert.equal(formatKeyPath(["network", "address"]), "network.address");
  assert.equal(formatKeyPath(["a", "b.c", "d e"]), 'a."b.c"."d e"');
  assert.equal(formatKeyPath([]), "");
});

Deno.test("scanKeyLines() maps top-level keys and table headers", () => {
  const text = [
    "# comment",
    'top = "x" # trailing comment',
    "",
    "[network]",
    'address = "0.0.0.0:9771"',
    "  privkey = 'k.pem'",
  ].join("\n");
  assert.deepEqual(scan(text), {
    top: 2,
    network: 4,
    "network.address": 5,
    "network.privkey": 6,
  });
});

Deno.test("scanKeyLines() numbers the elements of arrays of tables", () => {
  const text = [
    "[[arena]]",
    'name = "a"',
    "[[peer]]",
    'name = "p"',
    "[[arena]]",
    'name = "b"',
    "[arena.disk_usage]",
    'max = "1G"',
  ].join("\n");
  assert.deepEqual(scan(text), {
    arena: 1,
    "arena[0]": 1,
    "arena[0].name": 2,
    peer: 3,
    "peer[0]": 3,
    "peer[0].name": 4,
    "arena[1]": 5,
    "arena[1].name": 6,
    "arena[1].disk_usage": 7,
    "arena[1].disk_usage.max": 8,
  });
});

Deno.test("scanKeyLines() handles nested arrays of tables", () => {
  const text = "[[a]]\n[[a.b]]\nx = 1\n[[a]]\n[[a.b]]\n[[a.b]]\ny = 2\n";
  const lines = scan(text);
  assert.equal(lines["a[0].b[0].x"], 3);
  assert.equal(lines["a[1].b[0]"], 5);
  assert.equal(lines["a[1].b[1].y"], 7);
});

Deno.test("scanKeyLines() handles dotted and quoted keys", () => {
  const text = [
    "[[arena]]",
    'disk_usage.max = "16M"',
    "disk_usage . leave = '10%'",
    '"quoted.key" = 1',
    "'literal key'.x = 2",
    '"esc\\u0041" = 3',
    '[ "t a b" . c ]',
    "z = 4",
  ].join("\n");
  assert.deepEqual(scan(text), {
    arena: 1,
    "arena[0]": 1,
    "arena[0].disk_usage": 2,
    "arena[0].disk_usage.max": 2,
    "arena[0].disk_usage.leave": 3,
    'arena[0]."quoted.key"': 4,
    'arena[0]."literal key"': 5,
    'arena[0]."literal key".x': 5,
    "arena[0].escA": 6,
    '"t a b"': 7,
    '"t a b".c': 7,
    '"t a b".c.z': 8,
  });
});

Deno.test("scanKeyLines() handles inline tables", () => {
  const text = [
    "[[arena]]",
    'disk_usage = { max = "1G", leave = "5%" }',
    "x = { a = { b = 1 }, c = [1, 2] }",
  ].join("\n");
  assert.deepEqual(scan(text), {
    arena: 1,
    "arena[0]": 1,
    "arena[0].disk_usage": 2,
    "arena[0].disk_usage.max": 2,
    "arena[0].disk_usage.leave": 2,
    "arena[0].x": 3,
    "arena[0].x.a": 3,
    "arena[0].x.a.b": 3,
    "arena[0].x.c": 3,
    "arena[0].x.c[0]": 3,
    "arena[0].x.c[1]": 3,
  });
});

Deno.test("scanKeyLines() handles multi-line strings with = and [ inside", () => {
  const text = [
    'a = """',
    "x = 1",
    "[not.a.table]",
    '"quoted" ""',
    '"""',
    "b = '''",
    "[[nor.this]] = '",
    "'''",
    'c = """one line with = and ["""',
    'd = "\\"still\\" [d] = x"',
    "e = 'a \\' # not an escape",
    'f = """ends with quotes"""""',
    "g = 1",
  ].join("\n");
  assert.deepEqual(scan(text), { a: 1, b: 6, c: 9, d: 10, e: 11, f: 12, g: 13 });
});

Deno.test("scanKeyLines() handles multi-line arrays with comments", () => {
  const text = [
    "list = [",
    "  1, # one",
    "  # nothing",
    '  "two ]",',
    "  [3, 4],",
    "]",
    "peer = [",
    '  { name = "a" },',
    "  {",
    '    name = "b" },',
    "]",
    "after = true",
  ].join("\n");
  const lines = scan(text);
  assert.equal(lines["list"], 1);
  assert.equal(lines["list[0]"], 2);
  assert.equal(lines["list[1]"], 4);
  assert.equal(lines["list[2][1]"], 5);
  assert.equal(lines["peer[0].name"], 8);
  assert.equal(lines["peer[1]"], 9);
  assert.equal(lines["peer[1].name"], 10);
  assert.equal(lines["after"], 12);
});

Deno.test("scanKeyLines() handles empty arrays, dates, CRLF and other scalars", () => {
  const text =
    "peer = []\r\nd = 1979-05-27 07:32:00Z\r\nf = -1.5e3\r\nb = false\r\n[t]\r\nx = inf\r\n";
  assert.deepEqual(scan(text), { peer: 1, d: 2, f: 3, b: 4, t: 5, "t.x": 6 });
});

Deno.test("scanKeyLines() keeps the first line of a key defined twice by dotted keys", () => {
  const text = "[a]\nb.c = 1\nb.d = 2\n";
  assert.deepEqual(scan(text), { a: 1, "a.b": 2, "a.b.c": 2, "a.b.d": 3 });
});

Deno.test("scanKeyLines() stops quietly on text it does not understand", () => {
  const lines = scanKeyLines('a = 1\nb = "unterminated\nc = 3\n');
  assert.deepEqual(Object.fromEntries(lines), { a: 1, b: 2 });
});

/** Every key path of a parsed document: tables, their keys, and array elements. */
function allPaths(value: unknown, path: (string | number)[] = []): string[] {
  const out = path.length === 0 ? [] : [formatKeyPath(path)];
  if (Array.isArray(value)) {
    value.forEach((v, i) => out.push(...allPaths(v, [...path, i])));
  } else if (typeof value === "object" && value !== null && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) out.push(...allPaths(v, [...path, k]));
  }
  return out;
}

Deno.test("scanKeyLines() finds a line for every key that smol-toml reads", () => {
  const text = [
    "title = 'x' # comment with \"quotes\" and = signs",
    "[network]",
    'address = "[::]:9771"',
    "[[arena]]",
    'name = "a"',
    'disk_usage = { max = "1G", leave = "5%" }',
    'notes = """',
    "[[arena]]",
    'name = "fake"',
    '"""',
    "[[arena]]",
    "name = 'b'",
    "disk_usage.max = 5",
    "[arena.extra]",
    "list = [ [1, 2], [",
    "  'x', # c",
    '  { k = "v" } ] ]',
    "[[peer]]",
    "'quoted key' = { \"a.b\" = 1 }",
    "peer2 = []",
  ].join("\n");
  const lines = scanKeyLines(text);
  const paths = allPaths(parse(text));
  assert.ok(paths.length > 20);
  for (const path of paths) assert.ok(lines.has(path), path);
  assert.equal(lines.get("arena[1].name"), 12);
  assert.equal(lines.get("arena[1].extra.list[1][1].k"), 17);
  assert.equal(lines.get('peer[0]."quoted key"."a.b"'), 19);
});
