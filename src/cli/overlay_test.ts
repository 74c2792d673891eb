// mountall / unmountall without a daemon: the errors and the nothing-to-do answers.
// Mounting over a running daemon's FUSE view: tests/daemon_test.ts.
import assert from "node:assert/strict";
import { captureIo, EXIT } from "./io.ts";
import { runCli } from "./mod.ts";
import { mountAll, unmountAll } from "./overlay.ts";

function setup(mountpoint: boolean): { dir: string; config: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "realize_cli_overlay_" });
  const config = `${dir}/config.toml`;
  Deno.mkdirSync(`${dir}/data`);
  Deno.writeTextFileSync(
    config,
    `[[arena]]\nname = "docs"\nworkdir = "work"\ndatadir = "data"\n` +
      (mountpoint ? `mountpoint = "merged"\n` : ""),
  );
  return { dir, config, [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }) };
}

Deno.test("mountall waits for the FUSE view, then fails naming it; nothing is mounted", async () => {
  using s = setup(true);
  const io = captureIo();
  const values = { config: s.config, fuse: `${s.dir}/fuse`, wait: "0.2" };
  await assert.rejects(
    mountAll({ values, positionals: [], io }),
    new RegExp(
      `^Error: Cannot mount the overlays: no realize FUSE view on "${s.dir}/fuse" after 0.2 s ` +
        `\\(start the daemon with --fuse ${s.dir}/fuse first\\)$`,
    ),
  );
  assert.match(io.stderr.join(""), /waiting for the daemon's FUSE view on .*\/fuse/);
  assert.deepEqual(io.stdout, []);
  await assert.rejects(Deno.stat(`${s.dir}/merged`), "the mountpoint is not even made");
});

Deno.test("mountall and unmountall need their options, and say when there is nothing to do", async () => {
  using s = setup(false);
  const io = captureIo();
  await assert.rejects(
    mountAll({ values: { config: s.config }, positionals: [], io }),
    /missing --fuse DIR \(where the daemon mounts its FUSE view\)/,
  );
  await assert.rejects(unmountAll({ values: {}, positionals: [], io }), /missing --config FILE/);
  assert.equal(
    await mountAll({ values: { config: s.config, fuse: s.dir }, positionals: [], io }),
    0,
  );
  assert.equal(await unmountAll({ values: { config: s.config }, positionals: [], io }), 0);
  assert.deepEqual(io.stdout, [
    "no arena has a mountpoint: nothing to mount\n",
    "no arena has a mountpoint: nothing to unmount\n",
  ]);
});

Deno.test("mountall --wait takes seconds; anything else is a usage error (exit 2)", async () => {
  using s = setup(true);
  const io = captureIo();
  const args = ["mountall", "--config", s.config, "--fuse", `${s.dir}/fuse`];
  assert.equal(await runCli([...args, "--wait", "soon"], io), EXIT.usage);
  assert.match(io.stderr.join(""), /invalid --wait "soon": a number of seconds, e.g. --wait 300/);
  assert.equal(await runCli([...args, "--wait", "0.1"], io), EXIT.error);
  assert.match(io.stderr.join(""), /no realize FUSE view on ".*\/fuse" after 0.1 s/);
});
