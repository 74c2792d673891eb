import assert from "node:assert/strict";
import { REPO, run } from "./helpers.ts";

/** Whether this process may make a network namespace (root, `unshare` and `ip` present). */
async function canUnshare(): Promise<boolean> {
  try {
    return (await run(["unshare", "-n", "ip", "link", "set", "lo", "up"])).code === 0;
  } catch {
    return false;
  }
}

const child = `${REPO}/src/net/testdata/v6only_child.ts`;

Deno.test({
  name: "listen() on [::] also binds 0.0.0.0 where IPv6 sockets are v6-only",
  ignore: !await canUnshare(),
  fn: async () => {
    const script = "ip link set lo up && echo 1 > /proc/sys/net/ipv6/bindv6only && " +
      `exec "${Deno.execPath()}" run --allow-all "${child}"`;
    const out = await run(["unshare", "-n", "sh", "-c", script]);
    assert.equal(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout);
    assert.deepEqual(report.bound, ["::", "0.0.0.0"]);
    assert.deepEqual(report.reached, {
      "127.0.0.1": "127.0.0.1",
      "::1": "::1",
      localhost: "127.0.0.1",
    });
    assert.match(report.lines[0], /^INFO net: listening on \[::\]:(\d+) and 0\.0\.0\.0:\1$/);
  },
});
