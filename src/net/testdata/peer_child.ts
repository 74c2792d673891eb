/**
 * A peer in its own process, for `tests/net_process_test.ts`: connects to the server named in
 * `REALIZE_NET_CHILD` (JSON: `privatePem`, `serverPem`, `port`), sends `hello`, echoes every
 * frame back, and runs until killed.
 *
 * @module
 */

import { decodePublicKeyPem, parsePrivateKey } from "../../keys/mod.ts";
import { connect } from "../mod.ts";
import type { PeerName } from "../../types/mod.ts";

const { privatePem, serverPem, port } = JSON.parse(Deno.env.get("REALIZE_NET_CHILD") ?? "{}");
const keys = await parsePrivateKey(privatePem);
const server = { name: "server" as PeerName, pubkey: decodePublicKeyPem(serverPem) };
const conn = await connect(server, { host: "127.0.0.1", port }, { keys });
await conn.send(new TextEncoder().encode("hello"));
for await (const frame of conn.frames()) await conn.send(frame);
