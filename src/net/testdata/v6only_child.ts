/**
 * Run by `tests/net_v6only_test.ts` inside a network namespace where `net.ipv6.bindv6only=1`:
 * listens on `[::]` port 0 and dials it over IPv4, IPv6 and `localhost`. Prints a JSON report.
 *
 * @module
 */

import { captureLogs, testPeer, testServer } from "../_testing.ts";
import { connect } from "../mod.ts";

using logs = captureLogs();
const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
await using srv = await testServer(server, [client], { host: "::" });
const reached: Record<string, string> = {};
for (const host of ["127.0.0.1", "::1", "localhost"]) {
  try {
    await using conn = await connect(server.identity, { host, port: srv.port }, {
      keys: client.keys,
    });
    reached[host] = conn.remoteAddress.host;
  } catch (error) {
    reached[host] = String(error);
  }
}
const report = { bound: srv.listener.addresses.map((a) => a.host), reached, lines: logs.lines };
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(report)));
