/**
 * The transport on loopback: 1 GiB from another process through a `Connection` (TLS 1.3,
 * 256 KiB frames) against raw TCP and raw TLS (same certificate, 256 KiB writes) measured in the
 * same run, round-robin, best of 3; and sequential 64-byte round trips through a `Connection`
 * against raw TLS and raw TCP echoes. `REALIZE_BENCH_NET_BYTES` shrinks the bulk transfer.
 *
 * @module
 */

import { cpuBusySeconds, threadCpuSeconds } from "./_cpu.ts";
import type { Result } from "./_report.ts";
import { generateKeyPair, type KeyPair } from "../src/keys/mod.ts";
import { certificateFor, type Connection, listen } from "../src/net/mod.ts";
import { configure } from "../src/util/mod.ts";
import type { PeerName } from "../src/types/mod.ts";
import { decodePublicKeyPem } from "../src/keys/mod.ts";

const BYTES = Number(Deno.env.get("REALIZE_BENCH_NET_BYTES") ?? 2 ** 30);
const FRAME_BYTES = 256 * 1024;
const ROUND_TRIPS = 5000;
const RUNS = 3;

/** The two identities of a transfer: the listening side's and the dialling child's. */
export interface Keys {
  readonly server: KeyPair;
  readonly client: KeyPair;
}

function spawn(mode: string, port: number, keys: Keys, bytes = BYTES): Deno.ChildProcess {
  const env = {
    REALIZE_BENCH_NET: JSON.stringify({
      privatePem: keys.client.privatePem,
      serverPem: keys.server.publicKey.pem,
      bytes,
      frameBytes: FRAME_BYTES,
    }),
  };
  const script = new URL("./net_child.ts", import.meta.url).pathname;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, mode, String(port)],
    env,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function finished(child: Deno.ChildProcess): Promise<void> {
  const status = await child.status;
  if (!status.success) throw new Error(`net_child exited with ${status.code}`);
}

/** Reads a raw stream to its end; MB/s from the first accepted byte. */
async function receiveRaw(conn: Deno.Conn, bytes: number, atEnd = () => {}): Promise<number> {
  const buf = new Uint8Array(FRAME_BYTES);
  const t = performance.now();
  let got = 0;
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) got += n;
  const ms = performance.now() - t;
  if (got < bytes) throw new Error(`received ${got} of ${bytes} bytes`);
  atEnd(); // the sender waits for this side to close
  conn.close();
  return got / 1e3 / ms;
}

/**
 * Receives raw TCP or TLS from a child process.
 *
 * @param mode `tcp-send` or `tls-send` (the same pinned certificate as the transport)
 * @param keys ours (the certificate) and the child's
 * @param busiest when given, gets the processor time of the busiest thread of the two
 *   processes during the transfer — the receiving one (this thread) and the sender's — and
 *   the whole machine's, both from the accepted connection on (the sender's start-up left out)
 * @param bytes how many (`REALIZE_BENCH_NET_BYTES`, 1 GiB, unless given)
 * @returns MB/s from the first accepted byte
 */
export async function rawBulk(
  mode: "tcp-send" | "tls-send",
  keys: Keys,
  busiest?: (seconds: number, machineSeconds: number) => void,
  bytes = BYTES,
): Promise<number> {
  const identity = await certificateFor(keys.server);
  const listener = mode === "tcp-send"
    ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
    : Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...identity });
  const child = spawn(mode, (listener.addr as Deno.NetAddr).port, keys, bytes);
  const conn = await listener.accept();
  listener.close();
  // From the accepted connection: the sender's start-up is not part of the transfer.
  const here = threadCpuSeconds(Deno.pid).get("main") ?? 0;
  const there = threadCpuSeconds(child.pid);
  const machine = cpuBusySeconds();
  const rate = await receiveRaw(conn, bytes, () => {
    const sender = [...threadCpuSeconds(child.pid)].map(([n, t]) => t - (there.get(n) ?? 0));
    busiest?.(
      Math.max((threadCpuSeconds(Deno.pid).get("main") ?? 0) - here, ...sender),
      cpuBusySeconds() - machine,
    );
  });
  await finished(child);
  return rate;
}

async function accepted(keys: Keys, mode: string): Promise<[Connection, Deno.ChildProcess]> {
  const { promise, resolve } = Promise.withResolvers<Connection>();
  const peers = [{
    name: "child" as PeerName,
    pubkey: decodePublicKeyPem(keys.client.publicKey.pem),
  }];
  const address = { host: "127.0.0.1", port: 0 };
  const listener = await listen({ address, keys: keys.server, peers, onConnection: resolve });
  const child = spawn(mode, listener.port, keys);
  const conn = await promise;
  await listener.close();
  return [conn, child];
}

async function connectionBulk(keys: Keys): Promise<number> {
  const [conn, child] = await accepted(keys, "conn-send");
  const t = performance.now();
  let got = 0;
  for await (const frame of conn.frames()) {
    got += frame.length;
    if (got >= BYTES) break;
  }
  const ms = performance.now() - t;
  if (got < BYTES) throw new Error(`received ${got} of ${BYTES} bytes: ${conn.end?.reason}`);
  await conn.close("done");
  await finished(child);
  return got / 1e3 / ms;
}

async function rawRoundTrips(mode: "tcp-echo" | "tls-echo", keys: Keys): Promise<number> {
  const identity = await certificateFor(keys.server);
  const listener = mode === "tcp-echo"
    ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
    : Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...identity });
  const child = spawn(mode, (listener.addr as Deno.NetAddr).port, keys);
  const conn = await listener.accept();
  listener.close();
  if (mode === "tcp-echo") (conn as Deno.TcpConn).setNoDelay(true);
  const ping = new Uint8Array(64);
  const buf = new Uint8Array(64);
  const t = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    await conn.write(ping);
    for (let got = 0; got < 64;) got += (await conn.read(buf.subarray(got))) ?? 64;
  }
  const ms = performance.now() - t;
  conn.close();
  await finished(child);
  return ROUND_TRIPS / (ms / 1000);
}

async function connectionRoundTrips(keys: Keys): Promise<number> {
  const [conn, child] = await accepted(keys, "conn-echo");
  const frames = conn.frames();
  const ping = new Uint8Array(64);
  const t = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) {
    await conn.send(ping);
    await frames.next();
  }
  const ms = performance.now() - t;
  await conn.close("done");
  await finished(child);
  return ROUND_TRIPS / (ms / 1000);
}

/**
 * Runs the benchmark on loopback.
 *
 * @returns the results
 */
export async function run(): Promise<Result[]> {
  const previous = configure({ write: () => {} }); // no auth lines in the report
  try {
    const keys = { server: await generateKeyPair(), client: await generateKeyPair() };
    const best = { tcp: 0, tls: 0, conn: 0, tcpRtt: 0, tlsRtt: 0, connRtt: 0 };
    for (let i = 0; i < RUNS; i++) {
      best.tcp = Math.max(best.tcp, await rawBulk("tcp-send", keys));
      best.tls = Math.max(best.tls, await rawBulk("tls-send", keys));
      best.conn = Math.max(best.conn, await connectionBulk(keys));
      best.tcpRtt = Math.max(best.tcpRtt, await rawRoundTrips("tcp-echo", keys));
      best.tlsRtt = Math.max(best.tlsRtt, await rawRoundTrips("tls-echo", keys));
      best.connRtt = Math.max(best.connRtt, await connectionRoundTrips(keys));
    }
    const gib = (BYTES / 2 ** 30).toFixed(BYTES >= 2 ** 30 ? 0 : 2);
    const unit = "MB/s";
    return [
      {
        name: `Connection, ${gib} GiB in 256 KiB frames`,
        value: best.conn,
        unit,
        reference: "raw TLS",
        referenceValue: best.tls,
      },
      {
        name: `Connection, ${gib} GiB in 256 KiB frames`,
        value: best.conn,
        unit,
        reference: "raw TCP",
        referenceValue: best.tcp,
      },
      {
        name: `raw TLS (pinned ED25519 cert), ${gib} GiB`,
        value: best.tls,
        unit,
        reference: "raw TCP",
        referenceValue: best.tcp,
      },
      {
        name: "Connection round trips, 64 B frames",
        value: best.connRtt,
        unit: "trips/s",
        reference: "raw TLS 64 B echo",
        referenceValue: best.tlsRtt,
      },
      {
        name: "raw TLS round trips, 64 B",
        value: best.tlsRtt,
        unit: "trips/s",
        reference: "raw TCP 64 B echo",
        referenceValue: best.tcpRtt,
      },
    ];
  } finally {
    configure(previous);
  }
}

if (import.meta.main) {
  const { table } = await import("./_report.ts");
  Deno.stdout.writeSync(new TextEncoder().encode(`${table(await run())}\n`));
}
