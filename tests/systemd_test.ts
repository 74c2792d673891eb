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

/**
 * Copies units of `systemd/` into `dir`, their launcher pointed at a script that does
 * nothing, as `install.sh --systemd` points them at its launcher.
 *
 * @returns each unit's path and text
 */
async function installUnits(
  dir: string,
  names: string[],
): Promise<{ path: string; text: string }[]> {
  const launcher = `${dir}/realize`;
  await Deno.writeTextFile(launcher, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  return await Promise.all(names.map(async (name) => {
    const text = (await Deno.readTextFile(`${REPO}/systemd/${name}`))
      .replaceAll("/usr/local/bin/realize", launcher);
    await Deno.writeTextFile(`${dir}/${name}`, text);
    return { path: `${dir}/${name}`, text };
  }));
}

/** `systemd-analyze verify` of unit files: no complaint at all. */
async function verified(paths: string[]): Promise<void> {
  const r = await run(["systemd-analyze", "verify", ...paths]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.trim(), "", r.stderr);
}

Deno.test({
  name: "systemd/realize.service passes systemd-analyze verify",
  ignore: !HAS_SYSTEMD_ANALYZE,
  fn: async () => {
    using tmp = tempDir();
    const { path, text: unit } = (await installUnits(tmp.path, ["realize.service"]))[0]!;
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^NoNewPrivileges=true$/m);
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute/m); // V8 is a JIT
    await verified([path]);
  },
});

Deno.test({
  name: "systemd/realize-overlay.service passes verify: after the daemon, restarted with it",
  ignore: !HAS_SYSTEMD_ANALYZE,
  fn: async () => {
    using tmp = tempDir();
    const units = await installUnits(tmp.path, ["realize.service", "realize-overlay.service"]);
    const unit = units[1]!.text;
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
    await verified(units.map((u) => u.path));
    // The same --fuse as the daemon's unit.
    const daemonUnit = await Deno.readTextFile(`${REPO}/systemd/realize.service`);
    assert.match(daemonUnit, /^ExecStart=.* --fuse \/run\/realize\/fuse$/m);
  },
});
