import assert from "node:assert/strict";
import { captureLogs, type TestPeer, testPeer, waitFor } from "./_testing.ts";
import { connect } from "./connect.ts";
import { Connections } from "./connections.ts";
import {
  BACKOFF_INITIAL_MS,
  BACKOFF_MAX_MS,
  backoffDelayMs,
  dialPeers,
  PeerDialer,
} from "./dialer.ts";
import { listen, type PeerListener } from "./listen.ts";

Deno.test("backoffDelayMs() doubles from 0.5 s to a 5 min cap, jitter in the upper half", () => {
  assert.equal(backoffDelayMs(0), 0);
  const low = { random: () => 0 };
  const high = { random: () => 1 };
  assert.equal(backoffDelayMs(1, low), BACKOFF_INITIAL_MS / 2);
  assert.equal(backoffDelayMs(1, high), BACKOFF_INITIAL_MS);
  assert.equal(backoffDelayMs(2, high), 2 * BACKOFF_INITIAL_MS);
  assert.equal(backoffDelayMs(5, high), 16 * BACKOFF_INITIAL_MS);
  assert.equal(backoffDelayMs(11, high), BACKOFF_MAX_MS); // 0.5 s × 2^10 > 5 min
  assert.equal(backoffDelayMs(10_000, low), BACKOFF_MAX_MS / 2);
  for (let n = 1; n < 30; n++) {
    const d = backoffDelayMs(n);
    assert.ok(d >= backoffDelayMs(n, low) && d <= backoffDelayMs(n, high));
  }
});

/** A listening peer with its registry; `stop()` takes it down, `start()` brings it back. */
class Server {
  readonly peer: TestPeer;
  readonly allowed: TestPeer[];
  port = 0;
  connections: Connections;
  #listener: PeerListener | null = null;

  constructor(peer: TestPeer, allowed: TestPeer[]) {
    this.peer = peer;
    this.allowed = allowed;
    this.connections = new Connections(peer.keys.publicKey.raw);
  }

  async start(): Promise<void> {
    this.connections = new Connections(this.peer.keys.publicKey.raw);
    const connections = this.connections;
    this.#listener = await listen({
      address: { host: "127.0.0.1", port: this.port },
      keys: this.peer.keys,
      peers: this.allowed.map((p) => p.identity),
      onConnection: (c) => connections.add(c),
    });
    this.port = this.#listener.port;
  }

  async stop(): Promise<void> {
    await this.#listener?.close();
    this.#listener = null;
    await this.connections.close("server stopping");
  }
}

Deno.test("PeerDialer redials with backoff and reconnects when the server is back", async () => {
  using logs = captureLogs();
  const [pa, pb] = await Promise.all([testPeer("alice"), testPeer("bob")]);
  const bob = new Server(pb, [pa]);
  await bob.start();
  const connections = new Connections(pa.keys.publicKey.raw);
  const dialer = new PeerDialer(
    { ...pb.identity, address: { host: "127.0.0.1", port: bob.port } },
    {
      keys: pa.keys,
      connections,
      backoff: { initialMs: 20, maxMs: 200 },
    },
  );
  try {
    await waitFor(() => connections.get(pb.identity.name) !== undefined, "the first connection");
    await bob.stop();
    // The first link lasted less than `stableMs`: it counts as a failure, then 3 refusals.
    await waitFor(() => dialer.failures >= 4, "three refused attempts");
    assert.equal(connections.get(pb.identity.name), undefined);
    await bob.start(); // same port
    await waitFor(() => connections.get(pb.identity.name)?.end === null, "the reconnection");
    assert.ok(dialer.failures >= 4, "a short-lived link does not reset the backoff");
  } finally {
    await dialer.stop();
    await connections.close();
    await bob.stop();
  }
  const auth = logs.of("auth").filter((l) => l.includes("alice") === false);
  const refused = auth.filter((l) => l.includes(`cannot connect to bob at 127.0.0.1:${bob.port}`));
  assert.ok(refused.length >= 3, auth.join("\n"));
  assert.ok(
    refused.every((l) => /: Connection refused \(os error 111\)$/.test(l)),
    refused.join("\n"),
  );
  assert.equal(auth.filter((l) => l.includes("connected to bob")).length, 2);
});

Deno.test("PeerDialer.connectNow() ends a long backoff at once", async () => {
  using _logs = captureLogs();
  const [pa, pb] = await Promise.all([testPeer("alice"), testPeer("bob")]);
  const bob = new Server(pb, [pa]);
  await bob.start();
  const port = bob.port;
  await bob.stop();
  const connections = new Connections(pa.keys.publicKey.raw);
  const dialer = new PeerDialer({ ...pb.identity, address: { host: "127.0.0.1", port } }, {
    keys: pa.keys,
    connections,
    backoff: { initialMs: 60_000 },
  });
  try {
    await waitFor(() => dialer.failures === 1, "the first failure");
    await bob.start();
    dialer.connectNow();
    await waitFor(() => connections.get(pb.identity.name) !== undefined, "the connection", 5_000);
  } finally {
    await dialer.stop();
    await connections.close();
    await bob.stop();
  }
});

Deno.test("PeerDialer waits while the peer is connected to us, dials once it leaves", async () => {
  using logs = captureLogs();
  const [pa, pb] = await Promise.all([testPeer("alice"), testPeer("bob")]);
  const alice = new Server(pa, [pb]);
  const bob = new Server(pb, [pa]);
  await Promise.all([alice.start(), bob.start()]);
  // bob reaches alice first: one connection carries both directions.
  const incoming = await connect(pa.identity, { host: "127.0.0.1", port: alice.port }, {
    keys: pb.keys,
  });
  bob.connections.add(incoming);
  await waitFor(() => alice.connections.peers.length === 1, "alice to register bob");
  const [dialer] = dialPeers([
    { ...pb.identity, address: { host: "127.0.0.1", port: bob.port } },
    { ...pb.identity, name: "roaming" as typeof pb.identity.name, address: null },
  ], { keys: pa.keys, connections: alice.connections, backoff: { initialMs: 20 } });
  try {
    assert.equal(dialer!.peer.name, "bob"); // the peer without an address has no dialer
    assert.equal(logs.of("auth").filter((l) => l.includes("connected to bob")).length, 0);
    await incoming.close("bob goes");
    await waitFor(
      () => logs.of("auth").some((l) => l.includes("connected to bob")),
      "alice to dial bob",
    );
    await waitFor(
      () => alice.connections.get(pb.identity.name)?.direction === "outgoing",
      "outgoing",
    );
  } finally {
    await dialer!.stop();
    await Promise.all([alice.stop(), bob.stop()]);
  }
});

Deno.test("two dialers started at once end with one connection both sides agree on", async () => {
  using _logs = captureLogs();
  const [pa, pb] = await Promise.all([testPeer("alice"), testPeer("bob")]);
  const alice = new Server(pa, [pb]);
  const bob = new Server(pb, [pa]);
  await Promise.all([alice.start(), bob.start()]);
  const backoff = { initialMs: 20, maxMs: 200 };
  const dialers = [
    new PeerDialer({ ...pb.identity, address: { host: "127.0.0.1", port: bob.port } }, {
      keys: pa.keys,
      connections: alice.connections,
      backoff,
    }),
    new PeerDialer({ ...pa.identity, address: { host: "127.0.0.1", port: alice.port } }, {
      keys: pb.keys,
      connections: bob.connections,
      backoff,
    }),
  ];
  try {
    for (let round = 0; round < 3; round++) {
      // Both dialers race to restore the link: a link picked while the race is still being
      // settled may be closed as the loser; then look again until one link carries a frame.
      let delivered = false;
      const deadline = Date.now() + 10_000;
      while (!delivered) {
        assert.ok(Date.now() < deadline, "one link, seen from both ends, carries a frame");
        await waitFor(() => {
          const ab = alice.connections.get(pb.identity.name);
          const ba = bob.connections.get(pa.identity.name);
          return ab?.end === null && ba?.end === null && ab.direction !== ba.direction;
        }, "one link, seen from both ends");
        const ab = alice.connections.get(pb.identity.name)!;
        const ba = bob.connections.get(pa.identity.name)!;
        const sent = await ab.send(Uint8Array.of(round)).then(() => true, () => false);
        const got = sent ? (await ba.frames().next()).value : undefined;
        if (got === undefined) continue; // that link lost the race
        assert.deepEqual(got, Uint8Array.of(round));
        delivered = true;
        await ab.close("next round");
        await waitFor(() => ba.end !== null, "bob to see the link go");
      }
    }
  } finally {
    await Promise.all(dialers.map((d) => d.stop()));
    await Promise.all([alice.stop(), bob.stop()]);
  }
});
