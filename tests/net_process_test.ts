import assert from "node:assert/strict";
import { captureLogs, testPeer, testServer } from "../src/net/_testing.ts";

Deno.test("a peer process killed with SIGKILL is seen gone at once, not by heartbeat", async () => {
  using _logs = captureLogs();
  const [server, child] = await Promise.all([testPeer("server"), testPeer("child")]);
  // A heartbeat far longer than the test: only the kernel's end of stream can end the link.
  const connection = { heartbeatIntervalMs: 600_000, heartbeatTimeoutMs: 600_000 };
  await using srv = await testServer(server, [child], { connection });
  const env = {
    REALIZE_NET_CHILD: JSON.stringify({
      privatePem: child.keys.privatePem,
      serverPem: server.keys.publicKey.pem,
      port: srv.port,
    }),
  };
  const proc = new Deno.Command(Deno.execPath(), {
    // --allow-all: the child loads src/types (BLAKE3 through N-API, which reads the OS).
    args: [
      "run",
      "--allow-all",
      new URL("../src/net/testdata/peer_child.ts", import.meta.url).pathname,
    ],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const conn = await srv.nth(1);
    const frames = conn.frames();
    assert.equal(new TextDecoder().decode((await frames.next()).value!), "hello");
    await conn.send(Uint8Array.of(1, 2, 3));
    assert.deepEqual((await frames.next()).value, Uint8Array.of(1, 2, 3));
    proc.kill("SIGKILL");
    const end = await conn.closed;
    assert.deepEqual([end.by, end.reason], [
      "error",
      "Connection lost: the peer went away without closing it",
    ]);
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch {
      // already dead
    }
    await proc.stderr.cancel();
    await proc.status;
  }
});
