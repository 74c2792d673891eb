import assert from "node:assert/strict";
import { configure, configureFromEnv, describeError, logger, parseLogSpec } from "./log.ts";

function capture(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const previous = configure({ write: (l) => void lines.push(l) });
  return { lines, restore: () => void configure(previous) };
}

function envOf(vars: Record<string, string>): { get(k: string): string | undefined } {
  return { get: (k) => vars[k] };
}

Deno.test("parseLogSpec() reads a default level and per-category levels", () => {
  const spec = parseLogSpec("debug, net=trace,auth=warn");
  assert.equal(spec.defaultLevel, "debug");
  assert.deepEqual([...spec.levels], [["net", "trace"], ["auth", "warn"]]);
  assert.equal(parseLogSpec("").defaultLevel, "info");
  assert.throws(() => parseLogSpec("net=loud"), /unknown level "loud"/);
});

Deno.test("Logger writes LEVEL category: message and filters by level", () => {
  const c = capture();
  try {
    configureFromEnv(envOf({ REALIZE_LOG: "info,net=debug" }));
    logger("net").debug("dialling laptop");
    logger("storage").debug("hidden");
    logger("auth").info("accepted laptop from 127.0.0.1:4000");
    logger("storage").warn("disk almost full", new Error("outer", { cause: new Error("ENOSPC") }));
    assert.deepEqual(c.lines, [
      "DEBUG net: dialling laptop",
      "INFO auth: accepted laptop from 127.0.0.1:4000",
      "WARN storage: disk almost full: outer: ENOSPC",
    ]);
  } finally {
    configureFromEnv(envOf({}));
    c.restore();
  }
});

Deno.test("REALIZE_LOG_FORMAT=systemd prints syslog priorities", () => {
  const c = capture();
  try {
    configureFromEnv(envOf({ REALIZE_LOG_FORMAT: "systemd", REALIZE_LOG: "debug" }));
    logger("auth").error("rejected");
    logger("net").info("up");
    logger("net").debug("detail");
    assert.deepEqual(c.lines, ["<3>auth: rejected", "<6>net: up", "<7>net: detail"]);
  } finally {
    configureFromEnv(envOf({}));
    c.restore();
  }
});

Deno.test("describeError() prints the cause chain", () => {
  const e = new Error("Cannot open arena", { cause: new Error("locked", { cause: "pid 3" }) });
  assert.equal(describeError(e), "Cannot open arena: locked: pid 3");
  assert.equal(describeError("plain"), "plain");
  const quoted = new Error("cannot read: ENOENT x", { cause: new Error("ENOENT x") });
  assert.equal(describeError(quoted), "cannot read: ENOENT x");
});
