import assert from "node:assert/strict";
import { ErrnoError } from "./library.ts";
import { type FileStat, lstat } from "./stat.ts";

/** Runs a command and fails the test if it fails. */
function run(command: string, args: string[]): void {
  const out = new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).outputSync();
  assert.ok(out.success, `${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** Runs `fn` with a fresh temp dir, then removes it. */
function withTempDir(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "realize-stat-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** `lstat(path)`, failing the test on null. */
function mustStat(path: string): FileStat {
  const stat = lstat(path);
  assert.ok(stat !== null, `lstat("${path}") returned null`);
  return stat;
}

/** Compares with `Deno.lstatSync`, which rounds times to milliseconds. */
function assertMatchesDeno(stat: FileStat, path: string): void {
  const info = Deno.lstatSync(path);
  assert.equal(stat.dev, info.dev);
  assert.equal(stat.ino, info.ino);
  assert.equal(stat.mode, info.mode);
  assert.equal(stat.nlink, info.nlink);
  assert.equal(stat.uid, info.uid);
  assert.equal(stat.gid, info.gid);
  assert.equal(stat.size, info.size);
  assert.equal(stat.blocks, info.blocks);
  assert.equal(Math.floor(stat.mtimeSecs * 1000 + stat.mtimeNsecs / 1e6), info.mtime?.getTime());
  // Deno.lstat keeps whole seconds of ctime only.
  assert.equal(stat.ctimeSecs, Math.floor(info.ctime!.getTime() / 1000));
}

Deno.test("lstat() reports a file, a dir, a symlink and a fifo", () => {
  withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "hello");
    Deno.mkdirSync(`${dir}/dir`);
    Deno.symlinkSync("file", `${dir}/link`);
    Deno.symlinkSync("nowhere/at/all", `${dir}/dangling`);
    run("mkfifo", [`${dir}/fifo`]);

    const file = mustStat(`${dir}/file`);
    assert.equal(file.kind, "file");
    assert.equal(file.size, 5);
    assert.equal(mustStat(`${dir}/dir`).kind, "dir");
    const link = mustStat(`${dir}/link`);
    assert.equal(link.kind, "symlink");
    assert.equal(link.size, "file".length);
    assert.notEqual(link.ino, file.ino);
    assert.equal(mustStat(`${dir}/dangling`).kind, "symlink");
    const fifo = mustStat(`${dir}/fifo`);
    assert.equal(fifo.kind, "other");
    assert.equal(fifo.mode & 0o170000, 0o010000);
    for (const name of ["file", "dir", "link", "dangling", "fifo"]) {
      assertMatchesDeno(mustStat(`${dir}/${name}`), `${dir}/${name}`);
    }
  });
});

Deno.test("lstat() returns null for a missing path and for a path through a file", () => {
  withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.equal(lstat(`${dir}/missing`), null);
    assert.equal(lstat(`${dir}/missing/child`), null);
    assert.equal(lstat(`${dir}/file/child`), null);
  });
});

Deno.test("lstat() throws ErrnoError naming the path for other errors", () => {
  const path = `/tmp/${"x".repeat(300)}`;
  assert.throws(() => lstat(path), (e: unknown) => {
    assert.ok(e instanceof ErrnoError);
    assert.equal(e.errno, 36); // ENAMETOOLONG
    assert.equal(e.message, `statx("${path}"): File name too long (errno 36)`);
    return true;
  });
  assert.throws(() => lstat("/tmp/a\0b"), TypeError);
});

Deno.test("lstat() reads nanosecond mtimes", () => {
  withTempDir((dir) => {
    const path = `${dir}/file`;
    Deno.writeTextFileSync(path, "");
    run("touch", ["-m", "-d", "2024-01-02 03:04:05.123456789", path]);
    const stat = mustStat(path);
    assert.equal(stat.mtimeNsecs, 123456789);
    assert.equal(stat.mtimeSecs, Math.floor(Deno.lstatSync(path).mtime!.getTime() / 1000));
    run("touch", ["-m", "-d", "1969-12-31 23:59:59.5 UTC", path]);
    const before1970 = mustStat(path);
    assert.equal(before1970.mtimeSecs, -1);
    assert.equal(before1970.mtimeNsecs, 500_000_000);
    assertMatchesDeno(mustStat(path), path);
  });
});

Deno.test("lstat() sees a hard link raise nlink and share the inode", () => {
  withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/a`, "x".repeat(10_000));
    assert.equal(mustStat(`${dir}/a`).nlink, 1);
    Deno.linkSync(`${dir}/a`, `${dir}/b`);
    const a = mustStat(`${dir}/a`);
    const b = mustStat(`${dir}/b`);
    assert.equal(a.nlink, 2);
    assert.equal(a.ino, b.ino);
    assert.equal(a.dev, b.dev);
    assert.equal(a.size, 10_000);
    assert.ok(a.blocks >= 10_000 / 512, `blocks ${a.blocks}`);
    assertMatchesDeno(a, `${dir}/a`);
  });
});

Deno.test("lstat() gives one dev per filesystem, as st_dev does", () => {
  withTempDir((dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.equal(mustStat(`${dir}/file`).dev, mustStat(dir).dev);
    assert.notEqual(mustStat("/proc").dev, mustStat(dir).dev);
    assertMatchesDeno(mustStat("/proc"), "/proc");
    assertMatchesDeno(mustStat("/dev/null"), "/dev/null");
  });
});
