// The unit file passes systemd's own checks (systemd is installed but not PID 1 here).
import assert from "node:assert/strict";
import { REPO, run, tempDir } from "./helpers.ts";

const HAS_SYSTEMD_ANALYZE = (() => {
  try {
    return Deno.statSync("/usr/bin/systemd-analyze").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "systemd/realize.service passes systemd-analyze verify",
  ignore: !HAS_SYSTEMD_ANALYZE,
  fn: async () => {
    using tmp = tempDir();
    const launcher = `${tmp.path}/realize`;
    await Deno.writeTextFile(launcher, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const unit = (await Deno.readTextFile(`${REPO}/systemd/realize.service`))
      .replaceAll("/usr/local/bin/realize", launcher);
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^NoNewPrivileges=true$/m);
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute/m); // V8 is a JIT
    await Deno.writeTextFile(`${tmp.path}/realize.service`, unit);
    const r = await run(["systemd-analyze", "verify", `${tmp.path}/realize.service`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", r.stderr);
  },
});

Deno.test({
  name: "systemd/realize-overlay.service passes verify: after the daemon, restarted with it",
  ignore: !HAS_SYSTEMD_ANALYZE,
  fn: async () => {
    using tmp = tempDir();
    const launcher = `${tmp.path}/realize`;
    await Deno.writeTextFile(launcher, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    for (const name of ["realize.service", "realize-overlay.service"]) {
      const unit = (await Deno.readTextFile(`${REPO}/systemd/${name}`))
        .replaceAll("/usr/local/bin/realize", launcher);
      await Deno.writeTextFile(`${tmp.path}/${name}`, unit);
    }
    const unit = await Deno.readTextFile(`${tmp.path}/realize-overlay.service`);
    for (
      const line of ["Requires=realize.service", "After=realize.service", "PartOf=realize.service"]
    ) {
      assert.match(unit, new RegExp(`^${line}$`, "m"));
    }
    assert.match(
      unit,
      /^ExecStart=\S+ mountall --config \S+ --fuse \/run\/realize\/fuse --wait \d+$/m,
    );
    assert.match(unit, /^ExecStop=\S+ unmountall --config \S+$/m);
    const r = await run([
      "systemd-analyze",
      "verify",
      `${tmp.path}/realize.service`,
      `${tmp.path}/realize-overlay.service`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", r.stderr);
    // The same --fuse as the daemon's unit.
    const daemonUnit = await Deno.readTextFile(`${REPO}/systemd/realize.service`);
    assert.match(daemonUnit, /^ExecStart=.* --fuse \/run\/realize\/fuse$/m);
  },
});
