import assert from "node:assert/strict";
import { captureLogs, pattern, rejection, testPeer, testServer, waitFor } from "./_testing.ts";
import { connect } from "./connect.ts";
import { AuthError } from "./errors.ts";
import { certificateFor, pinnedTlsOptions } from "./certs.ts";
import { ByteReader, newTraffic, writeAll } from "./framing.ts";
import { HANDSHAKE_MAGIC, HELLO_BYTES, NONCE_BYTES, signedBytes } from "./handshake.ts";
import { keyText } from "./address.ts";
import {
  forgedV1Certificate,
  opensslForgedV1,
  tlsServerWithCertificate,
} from "./_forged_testing.ts";

const ADDR = /127\.0\.0\.1:\d+/;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function onlyLine(lines: string[], re: RegExp): void {
  assert.equal(lines.length, 1, `one line expected, got ${JSON.stringify(lines)}`);
  assert.match(lines[0]!, re);
}

Deno.test("connect() authenticates both ways and frames flow in both directions", async () => {
  using logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  await using srv = await testServer(server, [client]);
  const address = { host: "127.0.0.1", port: srv.port };
  await using out = await connect(server.identity, address, { keys: client.keys });
  const inc = await srv.nth(1);
  assert.equal(out.peer, "server");
  assert.equal(out.direction, "outgoing");
  assert.equal(inc.peer, "laptop");
  assert.equal(inc.direction, "incoming");
  assert.deepEqual(inc.remotePublicKey, client.identity.pubkey.raw);
  assert.equal(inc.remoteAddress.host, "127.0.0.1");

  await out.send(pattern(1000, 1));
  await inc.send(pattern(70_000, 2)); // larger than one batched write
  await inc.send(new Uint8Array(0));
  const got = await inc.frames().next();
  assert.deepEqual(got.value, pattern(1000, 1));
  const it = out.frames();
  assert.deepEqual((await it.next()).value, pattern(70_000, 2));
  assert.deepEqual((await it.next()).value, new Uint8Array(0));
  assert.ok(out.bytesSent >= 1000 && inc.bytesReceived === out.bytesSent);

  await waitFor(() => logs.of("auth").length === 2, "two auth lines");
  const auth = logs.of("auth").sort();
  assert.match(auth[0]!, /^INFO auth: accepted laptop from 127\.0\.0\.1:\d+$/);
  assert.equal(auth[1], `INFO auth: connected to server at 127.0.0.1:${srv.port}`);
});

Deno.test("connect() is rejected by a server that does not know our key", async () => {
  using logs = captureLogs();
  const [server, stranger, friend] = await Promise.all([
    testPeer("server"),
    testPeer("stranger"),
    testPeer("friend"),
  ]);
  await using srv = await testServer(server, [friend]);
  const address = { host: "127.0.0.1", port: srv.port };
  const error = await rejection(connect(server.identity, address, { keys: stranger.keys }));
  assert.ok(error instanceof AuthError);
  assert.equal(error.code, "unknown-key");
  assert.ok(error.byPeer);
  const key = keyText(stranger.identity.pubkey.raw);
  assert.equal(
    error.message,
    `Rejected by server at 127.0.0.1:${srv.port}: unknown key ${key}`,
  );
  await waitFor(() => logs.of("auth").length === 2, "two auth lines");
  const lines = logs.of("auth");
  onlyLine(
    lines.filter((l) => l.includes("rejected connection")),
    new RegExp(`^WARN auth: rejected connection from ${ADDR.source}: unknown key ${escape(key)}$`),
  );
  onlyLine(
    lines.filter((l) => l.includes("rejected by")),
    new RegExp(
      `^WARN auth: rejected by server at 127\\.0\\.0\\.1:${srv.port}: unknown key ${escape(key)}$`,
    ),
  );
  assert.equal(srv.connections.length, 0);
});

Deno.test("connect() refuses a server that holds another key than the configured one", async () => {
  using logs = captureLogs();
  const [server, impostor, client] = await Promise.all([
    testPeer("server"),
    testPeer("impostor"),
    testPeer("laptop"),
  ]);
  await using srv = await testServer(impostor, [client]);
  const address = { host: "127.0.0.1", port: srv.port };
  const error = await rejection(connect(server.identity, address, { keys: client.keys }));
  assert.ok(error instanceof AuthError);
  assert.equal(error.code, "wrong-server-key");
  assert.equal(error.byPeer, false);
  assert.match(
    error.message,
    /^Refused server at 127\.0\.0\.1:\d+: the server's certificate is not/,
  );
  assert.match(String((error.cause as Error).message), /UnknownIssuer/);
  await waitFor(() => logs.of("auth").length === 2, "two auth lines");
  onlyLine(
    logs.of("auth").filter((l) => l.includes("auth: refused")),
    new RegExp(
      `^WARN auth: refused server at ${ADDR.source}: ` +
        "the server's certificate is not server's key: .*UnknownIssuer",
    ),
  );
  onlyLine(
    logs.of("auth").filter((l) => l.includes("auth: rejected connection")),
    /^INFO auth: rejected connection from 127\.0\.0\.1:\d+: the client refused our certificate/,
  );
  assert.equal(srv.connections.length, 0);
});

/** A client that speaks TLS and the handshake by hand, to misbehave in it. */
async function handClient(port: number, serverRaw: Uint8Array<ArrayBuffer>) {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const tls = await Deno.startTls(tcp, await pinnedTlsOptions(serverRaw));
  const traffic = newTraffic();
  const reader = new ByteReader(tls, traffic);
  const hello = (await reader.readExact(HELLO_BYTES))!;
  return { tls, reader, traffic, nonce: hello.slice(5, 5 + NONCE_BYTES) };
}

Deno.test("the server rejects a proof whose signature does not verify", async () => {
  using logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  await using srv = await testServer(server, [client]);
  const c = await handClient(srv.port, server.identity.pubkey.raw);
  const clientKey = client.identity.pubkey.raw;
  const wrongNonce = c.nonce.map((b) => b ^ 1);
  const signed = signedBytes(wrongNonce, server.identity.pubkey.raw, clientKey);
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", client.keys.privateKey, signed));
  await writeAll(c.tls, new Uint8Array([...HANDSHAKE_MAGIC, 1, ...clientKey, ...sig]), c.traffic);
  const verdict = (await c.reader.readExact(2))!;
  assert.equal(verdict[0], 2); // bad-signature
  const reason = new TextDecoder().decode((await c.reader.readExact(verdict[1]!))!);
  assert.equal(reason, `bad signature for key ${keyText(clientKey)}`);
  assert.equal(await c.reader.readExact(1), null); // then the server hangs up
  c.tls.close();
  await waitFor(() => logs.of("auth").length === 1, "one auth line");
  assert.match(
    logs.of("auth")[0]!,
    new RegExp(`^WARN auth: rejected connection from ${ADDR.source}: bad signature for key `),
  );
  assert.equal(srv.connections.length, 0);
});

Deno.test("the server rejects a client speaking another protocol inside TLS", async () => {
  using logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  await using srv = await testServer(server, [client]);
  const c = await handClient(srv.port, server.identity.pubkey.raw);
  const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n".padEnd(101, " "));
  await writeAll(c.tls, request, c.traffic);
  const verdict = (await c.reader.readExact(2))!;
  assert.equal(verdict[0], 4); // protocol
  c.tls.close();
  await waitFor(() => logs.of("auth").length === 1, "one auth line");
  assert.match(
    logs.of("auth")[0]!,
    new RegExp(
      `^INFO auth: rejected connection from ${ADDR.source}: ` +
        "the client does not speak the realize handshake$",
    ),
  );
});

Deno.test("connect() rejects a forged X.509 v1 certificate carrying the peer's key", async (t) => {
  const [victim, attacker, client] = await Promise.all([
    testPeer("victim"),
    testPeer("attacker"),
    testPeer("laptop"),
  ]);
  const forgeries: [string, string | null][] = [
    ["built by hand", await forgedV1Certificate(victim.identity.pubkey.raw, attacker.keys)],
    ["made by openssl", await opensslForgedV1(victim.identity.pubkey.raw, attacker.keys)],
  ];
  for (const [how, cert] of forgeries) {
    await t.step({
      name: how,
      ignore: cert === null, // no openssl binary
      fn: async () => {
        using logs = captureLogs();
        await using srv = await tlsServerWithCertificate(cert!, attacker.keys.privatePem);
        const address = { host: "127.0.0.1", port: srv.port };
        const error = await rejection(
          connect(victim.identity, address, { keys: client.keys }),
        );
        assert.ok(error instanceof AuthError);
        assert.equal(error.code, "bad-certificate");
        assert.match(String((error.cause as Error).message), /UnsupportedCertVersion/);
        onlyLine(
          logs.of("auth"),
          new RegExp(
            `^WARN auth: refused victim at ${ADDR.source}: the server's certificate ` +
              "is not a realize X\\.509 v3 certificate: .*UnsupportedCertVersion",
          ),
        );
      },
    });
  }
  // Our own certificate for the same key is X.509 v3 and verifies against the same anchor.
  const genuine = await certificateFor(victim.keys);
  assert.match(genuine.cert, /BEGIN CERTIFICATE/);
});

Deno.test("both sides name a handshake version they do not speak", async () => {
  using logs = captureLogs();
  const [server, client] = await Promise.all([testPeer("server"), testPeer("laptop")]);
  // A client from the future: version 2 in its proof.
  await using srv = await testServer(server, [client]);
  const c = await handClient(srv.port, server.identity.pubkey.raw);
  await writeAll(c.tls, new Uint8Array([...HANDSHAKE_MAGIC, 2, ...new Uint8Array(96)]), c.traffic);
  const verdict = (await c.reader.readExact(2))!;
  assert.equal(verdict[0], 3);
  const reason = new TextDecoder().decode((await c.reader.readExact(verdict[1]!))!);
  assert.equal(reason, "the client speaks handshake version 2; this peer speaks 1");
  c.tls.close();
  await waitFor(() => logs.of("auth").length === 1, "the rejection");
  assert.match(logs.of("auth")[0]!, /^WARN auth: rejected connection from .*: the client speaks/);

  // A server from the future: version 2 in its hello.
  const identity = await certificateFor(server.keys);
  using listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...identity });
  const serving = (async () => {
    const conn = await listener.accept();
    const hello = [...HANDSHAKE_MAGIC, 2, ...new Uint8Array(NONCE_BYTES)];
    await writeAll(conn, Uint8Array.from([...hello, ...server.identity.pubkey.raw]), newTraffic());
    await conn.read(new Uint8Array(1)).catch(() => null); // until the client hangs up
    conn.close();
  })();
  const address = { host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port };
  const error = await rejection(connect(server.identity, address, { keys: client.keys }));
  await serving;
  assert.ok(error instanceof AuthError);
  assert.equal(error.code, "version");
  assert.match(error.message, /: the server speaks handshake version 2; this peer speaks 1$/);
});
