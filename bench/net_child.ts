/**
 * The far end of `net_bench.ts`, in its own process: `net_child.ts MODE PORT`, settings in
 * `REALIZE_BENCH_NET` (JSON: `privatePem`, `serverPem`, `bytes`, `frameBytes`).
 *
 * Modes: `tcp-send`, `tls-send`, `conn-send` send `bytes` in `frameBytes` writes or frames;
 * `tcp-echo`, `tls-echo`, `conn-echo` send back what they receive until the other side closes.
 *
 * @module
 */

import { decodePublicKeyPem, parsePrivateKey } from "../src/keys/mod.ts";
import { connect, pinnedTlsOptions } from "../src/net/mod.ts";
import type { PeerName } from "../src/types/mod.ts";
import { configure } from "../src/util/mod.ts";

configure({ write: () => {} }); // the parent prints the report
const settings = JSON.parse(Deno.env.get("REALIZE_BENCH_NET") ?? "{}");
const [mode, portText] = Deno.args;
const port = Number(portText);
const keys = await parsePrivateKey(settings.privatePem);
const server = { name: "bench" as PeerName, pubkey: decodePublicKeyPem(settings.serverPem) };

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

async function rawSend(conn: Deno.Conn): Promise<void> {
  const chunk = new Uint8Array(settings.frameBytes).fill(7);
  for (let sent = 0; sent < settings.bytes; sent += chunk.length) await writeAll(conn, chunk);
  await conn.closeWrite();
  await conn.read(new Uint8Array(1)); // wait for the receiver to finish
  conn.close();
}

async function tcp(): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return conn;
}

if (mode === "tcp-send") {
  await rawSend(await tcp());
} else if (mode === "tls-send") {
  await rawSend(await Deno.startTls(await tcp(), await pinnedTlsOptions(server.pubkey.raw)));
} else if (mode === "conn-send") {
  const conn = await connect(server, { host: "127.0.0.1", port }, { keys });
  const frame = new Uint8Array(settings.frameBytes).fill(7);
  for (let sent = 0; sent < settings.bytes; sent += frame.length) await conn.send(frame);
  await conn.closed; // the receiver closes once it has everything
} else if (mode === "tcp-echo" || mode === "tls-echo") {
  let conn: Deno.Conn = await tcp();
  if (mode === "tls-echo") {
    const options = await pinnedTlsOptions(server.pubkey.raw);
    conn = await Deno.startTls(conn as Deno.TcpConn, options);
  }
  const buf = new Uint8Array(64 * 1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    await writeAll(conn, buf.subarray(0, n));
  }
  conn.close();
} else if (mode === "conn-echo") {
  const conn = await connect(server, { host: "127.0.0.1", port }, { keys });
  for await (const frame of conn.frames()) await conn.send(frame);
} else {
  throw new TypeError(`Unknown mode "${mode}"`);
}
