import assert from "node:assert/strict";
import { join } from "node:path";
import {
  assertConfigError,
  assertConfigErrorAsync,
  newPublicKeyPem,
  TEST_ENV,
} from "./_testing.ts";
import { checkConfigDirs, checkPeerKeys } from "./check.ts";
import { parseConfig } from "./parse.ts";
import type { Config } from "./types.ts";

/** Runs `fn` in a new temporary directory (under `parent`), removed afterwards. */
function withTempDir(fn: (dir: string) => void, parent?: string): void {
  const dir = Deno.realPathSync(Deno.makeTempDirSync(parent === undefined ? {} : { dir: parent }));
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Parses a one-arena configuration written as `<dir>/config.toml`: line 1 `[[arena]]`,
 * 2 name, 3 workdir, 4 datadir (when given).
 */
function arenaConfig(dir: string, workdir: string, datadir?: string): Config {
  const lines = ["[[arena]]", 'name = "docs"', `workdir = ${JSON.stringify(workdir)}`];
  if (datadir !== undefined) lines.push(`datadir = ${JSON.stringify(datadir)}`);
  return parseConfig(lines.join("\n"), join(dir, "config.toml"), { env: TEST_ENV });
}

Deno.test("checkConfigDirs() accepts a datadir inside a workdir that does not exist yet", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(join(dir, "store/docs"), { recursive: true });
    checkConfigDirs(arenaConfig(dir, "store/.docs.realize", "store/docs"));
    checkConfigDirs(arenaConfig(dir, "new/deeper/work", "store/docs"));
    Deno.mkdirSync(join(dir, "one-a/data"), { recursive: true });
    checkConfigDirs(arenaConfig(dir, "one-a", "one-a/data"));
  });
});

Deno.test("checkConfigDirs() accepts an arena without a datadir", () => {
  withTempDir((dir) => checkConfigDirs(arenaConfig(dir, "work")));
});

Deno.test("checkConfigDirs() rejects a workdir inside or equal to the datadir", () => {
  withTempDir((dir) => {
    const data = join(dir, "data");
    Deno.mkdirSync(data);
    const file = join(dir, "config.toml");
    assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "data/.realize", "data")),
      `${file}:3: arena "docs": workdir must not be inside datadir ` +
        `(${data}/.realize is in ${data})`,
      "arena[0].workdir",
    );
    assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "data/", "data")),
      `${file}:3: arena "docs": workdir must not be inside datadir (${data} is in ${data})`,
    );
  });
});

Deno.test("checkConfigDirs() compares real paths, through symbolic links", () => {
  withTempDir((dir) => {
    const data = join(dir, "data");
    Deno.mkdirSync(join(data, "sub"), { recursive: true });
    Deno.symlinkSync(join(data, "sub"), join(dir, "link"));
    Deno.symlinkSync(data, join(dir, "datalink"));
    assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "link/work", "data")),
      `${dir}/config.toml:3: arena "docs": workdir must not be inside datadir ` +
        `(${data}/sub/work is in ${data})`,
    );
    assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "data/w", "datalink")),
      `${dir}/config.toml:3: arena "docs": workdir must not be inside datadir ` +
        `(${data}/w is in ${data})`,
    );
    // A sibling whose name starts like the datadir is not inside it.
    checkConfigDirs(arenaConfig(dir, "data2/w", "data"));
  });
});

Deno.test("checkConfigDirs() rejects a missing datadir", () => {
  withTempDir((dir) => {
    assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "work", "nope")),
      `${dir}/config.toml:4: arena "docs": datadir not found: ${dir}/nope`,
      "arena[0].datadir",
    );
  });
});

Deno.test("checkConfigDirs() rejects a datadir that is not a directory", () => {
  // The datadir is checked by listing it with Deno.readDirSync, the call that also fails
  // for an unreadable directory: a file makes that call fail even for root.
  withTempDir((dir) => {
    Deno.writeTextFileSync(join(dir, "file"), "x");
    const error = assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "work", "file")),
      `${dir}/config.toml:4: arena "docs": datadir is not a directory: ${dir}/file`,
    );
    assert.ok(error.cause instanceof Deno.errors.NotADirectory);
  });
});

Deno.test({
  name: "checkConfigDirs() rejects an unreadable datadir",
  // Root reads a directory whatever its mode (CAP_DAC_OVERRIDE), and a test cannot
  // switch to another user; as root, the test above covers the same readDirSync path.
  ignore: Deno.uid() === 0,
  fn() {
    withTempDir((dir) => {
      const data = join(dir, "data");
      Deno.mkdirSync(data);
      Deno.chmodSync(data, 0o000);
      try {
        assertConfigError(
          () => checkConfigDirs(arenaConfig(dir, "work", "data")),
          `${dir}/config.toml:4: arena "docs": datadir is not readable: ${data}`,
        );
      } finally {
        Deno.chmodSync(data, 0o755);
      }
    });
  },
});

Deno.test("checkConfigDirs() rejects a workdir that is a file", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(join(dir, "data"));
    Deno.writeTextFileSync(join(dir, "work"), "x");
    assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "work", "data")),
      `${dir}/config.toml:3: arena "docs": workdir is not a directory: ${dir}/work`,
    );
    assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "work")),
      `${dir}/config.toml:3: arena "docs": workdir is not a directory: ${dir}/work`,
    );
    const error = assertConfigError(
      () => checkConfigDirs(arenaConfig(dir, "work/sub", "data")),
      `${dir}/config.toml:3: arena "docs": cannot read workdir ${dir}/work/sub: ` +
        `Not a directory (os error 20): stat '${dir}/work/sub'`,
    );
    assert.ok(error.cause instanceof Deno.errors.NotADirectory);
  });
});

const SHM = "/dev/shm";
const differentDevices = (() => {
  let tmp: string | undefined;
  try {
    tmp = Deno.makeTempDirSync();
    return Deno.statSync(SHM).dev !== Deno.statSync(tmp).dev;
  } catch {
    return false;
  } finally {
    if (tmp !== undefined) Deno.removeSync(tmp);
  }
})();

Deno.test({
  name: "checkConfigDirs() rejects a workdir on another device than the datadir",
  // Needs a tmpfs at /dev/shm and a temporary directory on another filesystem.
  ignore: !differentDevices,
  fn() {
    withTempDir((shm) => {
      withTempDir((dir) => {
        const data = join(dir, "data");
        Deno.mkdirSync(data);
        const tmpDev = Deno.statSync(dir).dev;
        const shmDev = Deno.statSync(shm).dev;
        // The workdir does not exist yet: its nearest existing parent (shm) counts.
        assertConfigError(
          () => checkConfigDirs(arenaConfig(dir, `${shm}/work/deeper`, "data")),
          `${dir}/config.toml:3: arena "docs": workdir must be on the same device as ` +
            `datadir (${shm} is on device ${shmDev}, ${data} on device ${tmpDev})`,
          "arena[0].workdir",
        );
      });
    }, SHM);
  },
});

Deno.test("checkConfigDirs() reports the file name as given to parseConfig()", () => {
  withTempDir((dir) => {
    const text = ["", "[[arena]]", 'name = "docs"', 'workdir = "w"', 'datadir = "missing"'];
    const config = parseConfig(text.join("\n"), "config.toml", { env: TEST_ENV, cwd: dir });
    assertConfigError(
      () => checkConfigDirs(config),
      `config.toml:5: arena "docs": datadir not found: ${dir}/missing`,
    );
  });
});

Deno.test("checkPeerKeys() imports every key into WebCrypto", async () => {
  const { pem } = await newPublicKeyPem();
  const text = ["[[peer]]", 'name = "b"', `pubkey = ${JSON.stringify(pem)}`].join("\n");
  const config = parseConfig(text, "config.toml", { env: TEST_ENV, cwd: "/" });
  await checkPeerKeys(config);
  // parseConfig() lets no such key through; build one by hand to reach the check.
  const peer = config.peers[0]!;
  const broken: Config = {
    ...config,
    peers: [{ ...peer, pubkey: { raw: peer.pubkey.raw, spki: Uint8Array.of(1, 2, 3) } }],
  };
  await assertConfigErrorAsync(
    () => checkPeerKeys(broken),
    'config.toml:3: peer "b": pubkey: not an ED25519 public key (PEM SPKI)',
    "peer[0].pubkey",
  );
});

Deno.test("checkConfigDirs() keeps the overlay's mountpoint out of datadir, and off datadir and workdir", () => {
  withTempDir((dir) => {
    Deno.mkdirSync(join(dir, "store/docs"), { recursive: true });
    const file = join(dir, "config.toml");
    const config = (mountpoint: string, workdir = "store/.docs.realize") =>
      parseConfig(
        [
          "[[arena]]",
          'name = "docs"',
          `workdir = ${JSON.stringify(workdir)}`,
          'datadir = "store/docs"',
          `mountpoint = ${JSON.stringify(mountpoint)}`,
        ].join("\n"),
        file,
        { env: TEST_ENV },
      );
    checkConfigDirs(config("home/docs")); // beside them: made when mounted
    checkConfigDirs(config("store/.docs.realize/view")); // inside the workdir is harmless
    const data = join(dir, "store/docs");
    assertConfigError(
      () => checkConfigDirs(config("store/docs/view")),
      `${file}:5: arena "docs": mountpoint must not be inside datadir (${data}/view is in ` +
        `${data}): the overlay would contain itself`,
      "arena[0].mountpoint",
    );
    assertConfigError(
      () => checkConfigDirs(config("store/docs")),
      `${file}:5: arena "docs": mountpoint must not be inside datadir (${data} is in ${data}): ` +
        `the overlay would contain itself`,
    );
    assertConfigError(
      () => checkConfigDirs(config("store")),
      `${file}:5: arena "docs": mountpoint must not hold the datadir (${data} is in ` +
        `${dir}/store): the overlay would hide it`,
    );
    Deno.mkdirSync(join(dir, "elsewhere"));
    assertConfigError(
      () => checkConfigDirs(config("elsewhere", "elsewhere/work")),
      `${file}:5: arena "docs": mountpoint must not hold the workdir (${dir}/elsewhere/work is ` +
        `in ${dir}/elsewhere): the overlay would hide it`,
    );
  });
});
