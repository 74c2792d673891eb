// docs/control.md as users read it: every route of its table answers, and its curl
// examples print what it says (against a socket served here over an in-memory daemon).
import assert from "node:assert/strict";
import { createApp, serveControl } from "../src/control/mod.ts";
import { FakeDaemonApi } from "../src/control/fake_api.ts";
import { configure } from "../src/util/mod.ts";
import { REPO, run, tempDir } from "./helpers.ts";

const DOC = Deno.readTextFileSync(`${REPO}/docs/control.md`);
const DOC_SOCKET = "/run/realize/control.sock";

function fakeDaemon(): FakeDaemonApi {
  return new FakeDaemonApi({
    peers: [{ name: "laptop", address: "laptop.lan:9771" }],
    arenas: [{ name: "photos/2024", mark: "keep", listings: { "": [] } }],
  });
}

Deno.test("docs/control.md: every route of the table answers", async () => {
  const routes = [...DOC.matchAll(/^\| `(GET|POST|PUT|DELETE)` +\| `([^`]+)` +\|/gm)];
  assert.equal(routes.length, 10);
  const app = createApp(fakeDaemon());
  for (const [, method, path] of routes) {
    const url = path!.replace(":name", "laptop").replace(":arena", "photos%2F2024");
    const body = method === "PUT" ? '{"mark":"own"}' : null;
    const res = await app.request(url, { method: method!, body });
    assert.ok(res.status === 200 || res.status === 202, `${method} ${path}: ${res.status}`);
    await res.body?.cancel();
  }
});

/** The `$ curl --unix-socket …` lines of the doc and the line each prints. */
function curlExamples(): { command: string; output: string }[] {
  const lines = DOC.split("\n");
  const out: { command: string; output: string }[] = [];
  lines.forEach((line, i) => {
    if (line.startsWith(`$ curl --unix-socket ${DOC_SOCKET} `)) {
      out.push({ command: line.slice(2), output: lines[i + 1]! });
    }
  });
  return out;
}

Deno.test({
  name: "docs/control.md: the curl examples print what the doc shows",
  ignore: (await run(["sh", "-c", "command -v curl"])).code !== 0,
  fn: async () => {
    using tmp = tempDir();
    const socket = `${tmp.path}/control.sock`;
    const previous = configure({ write: () => {} });
    try {
      await using _server = await serveControl({ socket, api: fakeDaemon() });
      const examples = curlExamples();
      assert.equal(examples.length, 6);
      for (const { command, output } of examples) {
        const r = await run(["sh", "-c", `${command.replace(DOC_SOCKET, socket)} -s`]);
        assert.equal(r.code, 0, `${command}: ${r.stderr}`);
        assert.equal(r.stdout, output, command);
      }
    } finally {
      configure(previous);
    }
  },
});
