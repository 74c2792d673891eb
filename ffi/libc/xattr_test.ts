import assert from "node:assert/strict";
import { ErrnoError } from "./library.ts";
import { getXattr, listXattr, removeXattr, setXattr } from "./xattr.ts";

const DECODER = new TextDecoder();

/** Runs a command; returns stdout, failing the test if it fails. */
function run(command: string, args: string[]): string {
  const out = new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).outputSync();
  assert.ok(out.success, `${command} ${args.join(" ")}: ${DECODER.decode(out.stderr)}`);
  return DECODER.decode(out.stdout);
}

/** Runs `fn` with a fresh temp dir (under `parent` if given), then removes it. */
function withTempDir(fn: (dir: string) => void, parent?: string): void {
  const options = parent === undefined ? {} : { dir: parent };
  const dir = Deno.makeTempDirSync({ prefix: "realize-xattr-", ...options });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Whether the filesystem holding temp dirs (under `parent` if given) takes `user.*`
 * xattrs, asked of `setfattr` so that a bug in `xattr.ts` cannot skip its own tests.
 */
function userXattrsWork(parent?: string): boolean {
  let works = false;
  try {
    withTempDir((dir) => {
      Deno.writeTextFileSync(`${dir}/probe`, "");
      works = new Deno.Command("setfattr", {
        args: ["-n", "user.probe", "-v", "1", `${dir}/probe`],
        stdout: "null",
        stderr: "null",
      }).outputSync().success;
    }, parent);
  } catch {
    return false;
  }
  return works;
}

/** `getfattr -e hex` of one attribute, as bytes. */
function getfattr(path: string, name: string): Uint8Array {
  const out = run("getfattr", ["--absolute-names", "-e", "hex", "-n", name, path]);
  const hex = out.match(new RegExp(`^${name.replaceAll(".", "\\.")}=0x([0-9a-f]*)$`, "m"));
  assert.ok(hex !== null, out);
  return Uint8Array.from(hex[1]!.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

/** The attribute names `getfattr -m -` lists. */
function getfattrNames(path: string): string[] {
  const out = run("getfattr", ["--absolute-names", "-m", "-", path]);
  return out.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

const XATTRS = userXattrsWork();
const SHM_XATTRS = userXattrsWork("/dev/shm");

Deno.test({
  name: "setXattr()/getXattr()/listXattr()/removeXattr() round-trip, as getfattr sees it",
  ignore: !XATTRS,
  fn() {
    withTempDir((dir) => {
      const path = `${dir}/file`;
      Deno.writeTextFileSync(path, "content");
      assert.deepEqual(listXattr(path), []);
      setXattr(path, "user.realize.mark", "héllo");
      setXattr(path, "user.realize.bytes", new Uint8Array([0, 1, 2, 255]));
      setXattr(path, "user.realize.empty", "");
      assert.deepEqual(getXattr(path, "user.realize.mark"), new TextEncoder().encode("héllo"));
      assert.deepEqual(getXattr(path, "user.realize.bytes"), new Uint8Array([0, 1, 2, 255]));
      assert.deepEqual(getXattr(path, "user.realize.empty"), new Uint8Array(0));
      for (const name of ["user.realize.mark", "user.realize.bytes"]) {
        assert.deepEqual(getXattr(path, name), getfattr(path, name));
      }
      const names = ["user.realize.bytes", "user.realize.empty", "user.realize.mark"];
      assert.deepEqual(listXattr(path).toSorted(), names);
      assert.deepEqual(getfattrNames(path).toSorted(), names);

      assert.equal(removeXattr(path, "user.realize.mark"), true);
      assert.equal(getXattr(path, "user.realize.mark"), null);
      assert.equal(removeXattr(path, "user.realize.mark"), false);
      assert.deepEqual(listXattr(path).toSorted(), ["user.realize.bytes", "user.realize.empty"]);
      assert.equal(Deno.readTextFileSync(path), "content");
    });
  },
});

Deno.test({
  name: "getXattr() reads values of 3000 bytes and a directory's attributes",
  ignore: !XATTRS,
  fn() {
    withTempDir((dir) => {
      const big = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256);
      setXattr(dir, "user.big", big);
      assert.deepEqual(getXattr(dir, "user.big"), big);
      assert.deepEqual(getfattr(dir, "user.big"), big);
      setXattr(dir, "user.big", "small now");
      assert.equal(DECODER.decode(getXattr(dir, "user.big")!), "small now");
    });
  },
});

Deno.test({
  name: "getXattr() reads a 60000-byte value on tmpfs",
  ignore: !SHM_XATTRS,
  fn() {
    withTempDir((dir) => {
      const path = `${dir}/file`;
      Deno.writeTextFileSync(path, "");
      const huge = Uint8Array.from({ length: 60_000 }, (_, i) => i % 251);
      setXattr(path, "user.huge", huge);
      assert.deepEqual(getXattr(path, "user.huge"), huge);
      const many = Array.from({ length: 200 }, (_, i) => `user.attribute.number.${i}`);
      for (const name of many) setXattr(path, name, "v");
      assert.deepEqual(listXattr(path).toSorted(), [...many, "user.huge"].toSorted());
    }, "/dev/shm");
  },
});

Deno.test({
  name: "setXattr() honours create and replace",
  ignore: !XATTRS,
  fn() {
    withTempDir((dir) => {
      const path = `${dir}/file`;
      Deno.writeTextFileSync(path, "");
      assert.throws(() => setXattr(path, "user.a", "1", "replace"), errnoIs(61));
      setXattr(path, "user.a", "1", "create");
      assert.throws(() => setXattr(path, "user.a", "2", "create"), errnoIs(17));
      setXattr(path, "user.a", "3", "replace");
      assert.equal(DECODER.decode(getXattr(path, "user.a")!), "3");
    });
  },
});

Deno.test({
  name: "xattr calls act on a symlink itself, never its target",
  ignore: !XATTRS,
  fn() {
    withTempDir((dir) => {
      Deno.writeTextFileSync(`${dir}/target`, "");
      Deno.symlinkSync("target", `${dir}/link`);
      setXattr(`${dir}/target`, "user.kept", "target's");
      assert.equal(getXattr(`${dir}/link`, "user.kept"), null);
      assert.deepEqual(listXattr(`${dir}/link`), []);
      assert.throws(() => setXattr(`${dir}/link`, "user.mark", "x"), (e: unknown) => {
        assert.ok(e instanceof ErrnoError);
        assert.equal(e.errno, 1); // EPERM: user.* only on regular files and directories
        assert.equal(
          e.message,
          `lsetxattr("${dir}/link", "user.mark"): Operation not permitted (errno 1)`,
        );
        return true;
      });
      assert.deepEqual(listXattr(`${dir}/target`), ["user.kept"]);
      assert.throws(() => removeXattr(`${dir}/link`, "user.kept"), errnoIs(1, "lremovexattr"));
      assert.equal(DECODER.decode(getXattr(`${dir}/target`, "user.kept")!), "target's");
    });
  },
});

Deno.test({
  name: "xattr calls throw ErrnoError naming the call, path and attribute",
  ignore: !XATTRS,
  fn() {
    withTempDir((dir) => {
      const missing = `${dir}/missing`;
      assert.throws(
        () => getXattr(missing, "user.a"),
        errnoIs(2, `lgetxattr("${missing}", "user.a"): No such file or directory (errno 2)`),
      );
      assert.throws(() => listXattr(missing), errnoIs(2, `llistxattr("${missing}"): `));
      assert.throws(() => removeXattr(missing, "user.a"), errnoIs(2, `lremovexattr("${missing}"`));
      Deno.writeTextFileSync(`${dir}/file`, "");
      assert.throws(
        () => setXattr(`${dir}/file`, "foo.bar", "x"),
        errnoIs(95, `lsetxattr("${dir}/file", "foo.bar"): Operation not supported (errno 95)`),
      );
      assert.equal(getXattr(`${dir}/file`, "foo.bar"), null); // EOPNOTSUPP → absent
      assert.equal(getXattr(`${dir}/file`, "user.never.set"), null);
      assert.throws(() => getXattr(`${dir}/file`, "user.a\0b"), TypeError);
    });
  },
});

/** An `assert.throws` check: an ErrnoError with this errno whose message starts so. */
function errnoIs(errno: number, messageStart = ""): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof ErrnoError, String(e));
    assert.equal(e.errno, errno);
    assert.ok(e.message.startsWith(messageStart), e.message);
    return true;
  };
}
