import assert from "node:assert/strict";
import { captureLogs, pattern, type TestPeer, testPeer, waitFor } from "./_testing.ts";
import { connect } from "./connect.ts";
import { compareKeys, Connections, type PeerEvent } from "./connections.ts";
import { listen, type PeerListener } from "./listen.ts";

interface Node extends AsyncDisposable {
  readonly peer: TestPeer;
  readonly connections: Connections;
  readonly listener: PeerListener;
  readonly events: PeerEvent[];
}

async function node(peer: TestPeer, others: TestPeer[]): Promise<Node> {
  const connections = new Connections(peer.keys.publicKey.raw);
  const events: PeerEvent[] = [];
  connections.subscribe((e) => void events.push(e));
  const listener = await listen({
    address: { host: "127.0.0.1", port: 0 },
    keys: peer.keys,
    peers: others.map((o) => o.identity),
    onConnection: (c) => connections.add(c),
  });
  return {
    peer,
    connections,
    listener,
    events,
    async [Symbol.asyncDispose]() {
      await listener.close();
      await connections.close();
    },
  };
}

Deno.test("compareKeys() orders keys bytewise", () => {
  assert.ok(compareKeys(Uint8Array.of(1, 2), Uint8Array.of(1, 3)) < 0);
  assert.ok(compareKeys(Uint8Array.of(2, 0), Uint8Array.of(1, 255)) > 0);
  assert.equal(compareKeys(Uint8Array.of(7), Uint8Array.of(7)), 0);
});

Deno.test("Connections keeps one connection when two peers dial each other at once", async () => {
  using logs = captureLogs();
  const [pa, pb] = await Promise.all([testPeer("alice"), testPeer("bob")]);
  await using a = await node(pa, [pb]);
  await using b = await node(pb, [pa]);
  for (let round = 0; round < 5; round++) {
    const [ab, ba] = await Promise.all([
      connect(pb.identity, { host: "127.0.0.1", port: b.listener.port }, { keys: pa.keys }),
      connect(pa.identity, { host: "127.0.0.1", port: a.listener.port }, { keys: pb.keys }),
    ]);
    a.connections.add(ab);
    b.connections.add(ba);
    // Both outgoing connections were registered; the incoming ones arrive via the listeners.
    await waitFor(() => ab.end !== null || ba.end !== null, "a duplicate to close");
    await waitFor(() => (ab.end === null) !== (ba.end === null), "exactly one to survive");
    const smaller = compareKeys(pa.keys.publicKey.raw, pb.keys.publicKey.raw) < 0 ? "alice" : "bob";
    const kept = ab.end === null ? ab : ba;
    assert.equal(kept === ab ? "alice" : "bob", smaller, "the smaller key's dial wins");
    await waitFor(
      () =>
        a.connections.get(pb.identity.name)?.end === null &&
        b.connections.get(pa.identity.name)?.end === null,
      "both registries to settle",
    );
    // The connections the two registries kept are the two ends of one link.
    const fromA = a.connections.get(pb.identity.name)!;
    const fromB = b.connections.get(pa.identity.name)!;
    assert.notEqual(fromA.direction, fromB.direction);
    await fromA.send(pattern(3, round));
    assert.deepEqual((await fromB.frames().next()).value, pattern(3, round));
    await fromA.close(`round ${round} over`);
    await waitFor(() => b.connections.get(pa.identity.name) === undefined, "bob to see it go");
  }
  assert.ok(logs.of("net").some((l) => l.includes(": duplicate connection")));
});

Deno.test("Connections replaces an older connection dialled the same way", async () => {
  using _logs = captureLogs();
  const [pa, pb] = await Promise.all([testPeer("alice"), testPeer("bob")]);
  await using a = await node(pa, [pb]);
  await using b = await node(pb, [pa]);
  const address = { host: "127.0.0.1", port: b.listener.port };
  const first = await connect(pb.identity, address, { keys: pa.keys });
  assert.ok(a.connections.add(first));
  const second = await connect(pb.identity, address, { keys: pa.keys });
  assert.ok(a.connections.add(second));
  // Both registries apply the rule; whichever closes first tells the other the same reason.
  const end = await first.closed;
  assert.equal(end.reason, "replaced by a newer connection");
  assert.equal(end.error, null);
  assert.equal(a.connections.get(pb.identity.name), second);
  // Events: connected twice (the second replaced the first), no disconnection in between.
  assert.deepEqual(a.events.map((e) => e.type), ["connected", "connected"]);
  await waitFor(() => b.connections.get(pa.identity.name)?.end === null, "bob's side");
  await second.close("done");
  await waitFor(() => a.events.length === 3, "the disconnection");
  assert.equal(a.events[2]!.type, "disconnected");
  assert.deepEqual(a.connections.peers, []);
});

Deno.test("Connections.waitDisconnected() resolves when the peer's connection ends", async () => {
  using _logs = captureLogs();
  const [pa, pb] = await Promise.all([testPeer("alice"), testPeer("bob")]);
  await using a = await node(pa, [pb]);
  await using b = await node(pb, [pa]);
  await a.connections.waitDisconnected(pb.identity.name); // not connected: at once
  const conn = await connect(pb.identity, { host: "127.0.0.1", port: b.listener.port }, {
    keys: pa.keys,
  });
  a.connections.add(conn);
  const waiting = a.connections.waitDisconnected(pb.identity.name);
  await waitFor(() => b.connections.peers.length === 1, "bob's side");
  await b.connections.get(pa.identity.name)!.close("bye");
  await waiting;
  assert.equal(a.connections.get(pb.identity.name), undefined);
  const last = a.events.at(-1)!;
  assert.equal(last.type, "disconnected");
  assert.deepEqual(last.type === "disconnected" && last.end, {
    by: "remote",
    reason: "bye",
    error: null,
  });
});
