// install.sh on a fresh copy of this checkout: idempotent, works piped from curl, and
// installs the pinned Deno from npm when none is on PATH.
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { REPO, run, tempDir } from "./helpers.ts";

const PINNED = Deno.readTextFileSync(`${REPO}/.deno-version`).trim();
const SYSTEM_PATH = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Copies the files git would commit (tracked and untracked, not ignored) and commits them. */
async function freshCheckout(dest: string): Promise<void> {
  const ls = await run(["git", "ls-files", "-co", "--exclude-standard", "-z"]);
  assert.equal(ls.code, 0, ls.stderr);
  for (const f of ls.stdout.split("\0").filter((f) => f !== "")) {
    try {
      await Deno.mkdir(dirname(`${dest}/${f}`), { recursive: true });
      await Deno.copyFile(`${REPO}/${f}`, `${dest}/${f}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // deleted but not yet staged
    }
  }
  for (const cmd of [["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]]) {
    const r = await run(["git", "-c", "user.name=t", "-c", "user.email=t@t", ...cmd], {
      cwd: dest,
    });
    assert.equal(r.code, 0, r.stderr);
  }
}

function env(bin: string, path: string): Record<string, string> {
  return { PATH: path, HOME: Deno.env.get("HOME") ?? "/root", REALIZE_BIN_DIR: bin };
}

Deno.test("install.sh is idempotent and its launcher runs realize", async () => {
  using tmp = tempDir();
  const src = `${tmp.path}/src`;
  await freshCheckout(src);
  const bin = `${tmp.path}/bin`;
  const path = `${dirname(Deno.execPath())}:${SYSTEM_PATH}`;
  const first = await run(["sh", "./install.sh"], { cwd: src, env: env(bin, path) });
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /install\.sh: ready: .*\/bin\/realize/);
  const version = await run([`${bin}/realize`, "--version"], { env: { PATH: SYSTEM_PATH } });
  assert.equal(version.code, 0, version.stderr);
  assert.match(
    version.stdout,
    new RegExp(`^realize .* \\(deno ${PINNED.replaceAll(".", "\\.")}\\)`),
  );
  const launcher = await Deno.readTextFile(`${bin}/realize`);
  const second = await run(["sh", "./install.sh"], { cwd: src, env: env(bin, path) });
  assert.equal(second.code, 0, second.stderr);
  assert.doesNotMatch(second.stderr, /installing/);
  assert.equal(await Deno.readTextFile(`${bin}/realize`), launcher);
});

Deno.test("install.sh piped to sh clones REALIZE_REPO and installs from there", async () => {
  using tmp = tempDir();
  const src = `${tmp.path}/src`;
  await freshCheckout(src);
  const home = `${tmp.path}/home`;
  const bin = `${tmp.path}/bin`;
  const path = `${dirname(Deno.execPath())}:${SYSTEM_PATH}`;
  const r = await run(["sh"], {
    cwd: tmp.path,
    stdin: await Deno.readTextFile(`${src}/install.sh`),
    env: { ...env(bin, path), REALIZE_REPO: `file://${src}`, REALIZE_HOME: home },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /cloning file:\/\/.* into .*home/);
  assert.ok((await Deno.stat(`${home}/main.ts`)).isFile);
  const version = await run([`${bin}/realize`, "--version"]);
  assert.equal(version.code, 0, version.stderr);
});

Deno.test("install.sh installs the pinned Deno from npm when none is on PATH", async () => {
  using tmp = tempDir();
  const src = `${tmp.path}/src`;
  await freshCheckout(src);
  const bin = `${tmp.path}/bin`;
  // PATH without deno (npm and node are in /usr/bin).
  const r = await run(["sh", "./install.sh"], { cwd: src, env: env(bin, SYSTEM_PATH) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`installing Deno ${PINNED.replaceAll(".", "\\.")} from the npm package`),
  );
  const deno = await run([`${bin}/deno`, "--version"]);
  assert.match(deno.stdout, new RegExp(`^deno ${PINNED.replaceAll(".", "\\.")} `));
  const version = await run([`${bin}/realize`, "--version"], { env: { PATH: SYSTEM_PATH } });
  assert.equal(version.code, 0, version.stderr);
});
