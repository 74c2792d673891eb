// mountedAt() and mountDevice() against /proc/self/mountinfo.
import assert from "node:assert/strict";
import { mountDevice, mountedAt } from "./mount.ts";

Deno.test("mountDevice() names the root filesystem's device as major:minor, like its st_dev", () => {
  const device = mountDevice("/");
  assert.match(device ?? "", /^\d+:\d+$/);
  const dev = Deno.statSync("/").dev;
  const major = ((dev >>> 8) & 0xfff) | Math.floor(dev / 2 ** 32) & ~0xfff;
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
  assert.equal(device, `${major}:${minor}`);
  assert.notEqual(mountedAt("/"), null);
});

Deno.test("mountDevice() and mountedAt() return null where nothing is mounted", () => {
  const dir = Deno.makeTempDirSync({ prefix: "realize_mount_" });
  try {
    assert.equal(mountDevice(dir), null);
    assert.equal(mountedAt(dir), null);
  } finally {
    Deno.removeSync(dir);
  }
});
