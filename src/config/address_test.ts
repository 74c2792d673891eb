import assert from "node:assert/strict";
import { formatHostPort, parseHostPort } from "./address.ts";

Deno.test("parseHostPort() accepts names, IPv4 and bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("laptop.lan:9771"), { host: "laptop.lan", port: 9771 });
  assert.deepEqual(parseHostPort("localhost:1"), { host: "localhost", port: 1 });
  assert.deepEqual(parseHostPort("example.com.:443"), { host: "example.com.", port: 443 });
  assert.deepEqual(parseHostPort("0.0.0.0:9771"), { host: "0.0.0.0", port: 9771 });
  assert.deepEqual(parseHostPort("192.168.1.20:65535"), { host: "192.168.1.20", port: 65535 });
  assert.deepEqual(parseHostPort("[::1]:9771"), { host: "::1", port: 9771 });
  assert.deepEqual(parseHostPort("[::]:9771"), { host: "::", port: 9771 });
  assert.deepEqual(parseHostPort("[fe80::1:2]:80"), { host: "fe80::1:2", port: 80 });
  assert.deepEqual(parseHostPort("[::ffff:1.2.3.4]:80"), { host: "::ffff:1.2.3.4", port: 80 });
});

Deno.test("parseHostPort() accepts port 0 only when asked", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:0", { allowPortZero: true }), {
    host: "127.0.0.1",
    port: 0,
  });
  assert.throws(() => parseHostPort("127.0.0.1:0"), {
    name: "RangeError",
    message: 'Invalid address "127.0.0.1:0": port must be from 1 to 65535',
  });
});

Deno.test("parseHostPort() rejects malformed addresses", () => {
  const cases: [string, string][] = [
    ["laptop", 'Invalid address "laptop": expected host:port'],
    ["laptop:", 'Invalid address "laptop:": port must be a number from 1 to 65535'],
    ["laptop:http", 'Invalid address "laptop:http": port must be a number from 1 to 65535'],
    ["laptop:65536", 'Invalid address "laptop:65536": port must be from 1 to 65535'],
    ["laptop:-1", 'Invalid address "laptop:-1": port must be a number from 1 to 65535'],
    [":9771", 'Invalid address ":9771": host is missing'],
    ["::1:9771", 'Invalid address "::1:9771": put an IPv6 address in brackets, like "[::1]:9771"'],
    ["[::g]:9771", 'Invalid address "[::g]:9771": "::g" is not an IPv6 address'],
    ["[1.2.3.4]:9771", 'Invalid address "[1.2.3.4]:9771": "1.2.3.4" is not an IPv6 address'],
    ["1.2.3.256:80", 'Invalid address "1.2.3.256:80": host is not an IPv4 address'],
    ["bad host:80", 'Invalid address "bad host:80": host "bad host" is not a valid host name'],
    ["a..b:80", 'Invalid address "a..b:80": host "a..b" is not a valid host name'],
    ["-a:80", 'Invalid address "-a:80": host "-a" is not a valid host name'],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseHostPort(text), { name: "RangeError", message }, text);
  }
});

Deno.test("formatHostPort() puts IPv6 hosts in brackets", () => {
  assert.equal(formatHostPort({ host: "::1", port: 9771 }), "[::1]:9771");
  assert.equal(formatHostPort({ host: "laptop.lan", port: 9771 }), "laptop.lan:9771");
  for (const text of ["[::]:1", "1.2.3.4:5", "a.b:6"]) {
    assert.equal(formatHostPort(parseHostPort(text)), text);
  }
});
