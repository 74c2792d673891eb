// Real overlayfs mounts in a temporary directory, a plain directory standing in for the
// FUSE view (the seed's unit test); tests/overlay_test.ts mounts them over real FUSE.
import assert from "node:assert/strict";
import { getXattr, MNT, mount, mountedAt, umount } from "../../ffi/libc/mod.ts";
import { parseArenaName } from "../types/mod.ts";
import {
  mountOverlay,
  type OverlayMode,
  OverlayMounts,
  overlayOptions,
  type OverlaySpec,
  overlaySpecs,
  unmountOverlays,
} from "./overlay.ts";

const ROOT = Deno.uid() === 0;

/** A fuse dir with `arena` in it (one file, one directory), a datadir, a workdir. */
class Layout implements Disposable {
  readonly dir = Deno.makeTempDirSync({ prefix: "realize_overlay_" });
  readonly fuse = `${this.dir}/fuse`;
  readonly specs: OverlaySpec[];

  constructor(arenas: string[] = ["docs"]) {
    this.specs = overlaySpecs(
      arenas.map((name, i) => ({
        name: parseArenaName(name),
        workdir: `${this.dir}/work${i}`,
        datadir: `${this.dir}/data${i}`,
        mountpoint: `${this.dir}/mnt${i}`,
        mark: "watch",
        diskUsage: null,
        maxParallelHashers: null,
        debounceMs: 0,
        history: { maxEntries: 1, maxAgeMs: 1 },
      })),
      this.fuse,
    );
    for (const s of this.specs) {
      Deno.mkdirSync(`${s.lower}/sub`, { recursive: true });
      Deno.writeTextFileSync(`${s.lower}/remote.txt`, "from a peer");
      Deno.writeTextFileSync(`${s.lower}/sub/deep.txt`, "deep");
      Deno.mkdirSync(s.upper);
    }
  }

  [Symbol.dispose](): void {
    for (const s of this.specs) {
      for (let i = 0; i < 4 && mountedAt(s.mountpoint) !== null; i++) {
        umount(s.mountpoint, MNT.DETACH);
      }
    }
    Deno.removeSync(this.dir, { recursive: true });
  }
}

Deno.test("overlaySpecs() takes arenas with a mountpoint: FUSE view below, datadir above", () => {
  const arena = (name: string, mountpoint: string | null) => ({
    name: parseArenaName(name),
    workdir: `/w/${name}`,
    datadir: `/d/${name}`,
    mountpoint,
    mark: "watch" as const,
    diskUsage: null,
    maxParallelHashers: null,
    debounceMs: 0,
    history: { maxEntries: 1, maxAgeMs: 1 },
  });
  const specs = overlaySpecs([arena("docs", "/m/docs"), arena("photos/2024", null)], "/fuse/");
  assert.deepEqual(specs, [{
    arena: "docs",
    lower: "/fuse/docs",
    upper: "/d/docs",
    work: "/w/docs/overlay",
    mountpoint: "/m/docs",
  }]);
});

Deno.test("overlayOptions() escapes , : and \\ and picks the options of each mode", () => {
  const spec: OverlaySpec = {
    arena: parseArenaName("a:b"),
    lower: "/f/a:b",
    upper: "/d/x,y",
    work: "/w/back\\slash",
    mountpoint: "/m",
  };
  assert.equal(
    overlayOptions(spec, "privileged"),
    "lowerdir=/f/a\\:b,upperdir=/d/x\\,y,workdir=/w/back\\\\slash,redirect_dir=on,metacopy=on",
  );
  assert.equal(
    overlayOptions(spec, "userxattr"),
    "lowerdir=/f/a\\:b,upperdir=/d/x\\,y,workdir=/w/back\\\\slash,userxattr",
  );
});

for (const mode of ["privileged", "userxattr"] as OverlayMode[]) {
  Deno.test({
    name: `a ${mode} overlay merges the datadir over the view; writes land in the datadir`,
    ignore: !ROOT,
    fn: () => {
      using l = new Layout();
      const s = l.specs[0]!;
      Deno.writeTextFileSync(`${s.upper}/local.txt`, "mine");
      using mounts = OverlayMounts.mount(l.specs, mode);
      assert.deepEqual(mounts.mounted.map((m) => [m.replaced, m.created]), [[false, true]]);
      assert.equal(mountedAt(s.mountpoint), "overlay");
      assert.deepEqual([...Deno.readDirSync(s.mountpoint)].map((e) => e.name).sort(), [
        "local.txt",
        "remote.txt",
        "sub",
      ]);
      assert.equal(Deno.readTextFileSync(`${s.mountpoint}/remote.txt`), "from a peer");
      Deno.writeTextFileSync(`${s.mountpoint}/remote.txt`, "edited");
      Deno.writeTextFileSync(`${s.mountpoint}/new.txt`, "new");
      assert.equal(Deno.readTextFileSync(`${s.upper}/remote.txt`), "edited", "copied up");
      assert.equal(Deno.readTextFileSync(`${s.upper}/new.txt`), "new");
      assert.equal(
        Deno.readTextFileSync(`${s.lower}/remote.txt`),
        "from a peer",
        "lower as it was",
      );
      // What each mode does with a directory rename (what userxattr loses: docs/overlay.md).
      if (mode === "privileged") {
        Deno.renameSync(`${s.mountpoint}/sub`, `${s.mountpoint}/moved`);
        assert.equal(Deno.readTextFileSync(`${s.mountpoint}/moved/deep.txt`), "deep");
        assert.equal(
          new TextDecoder().decode(getXattr(`${s.upper}/moved`, "trusted.overlay.redirect")!),
          "sub",
        );
      } else {
        assert.throws(
          () => Deno.renameSync(`${s.mountpoint}/sub`, `${s.mountpoint}/moved`),
          (e: Error) => e.message.includes("os error 18"), // EXDEV
        );
      }
      // And with a metadata change: privileged copies up the metadata only, userxattr all.
      Deno.writeTextFileSync(`${s.lower}/meta.txt`, "metadata only"); // a peer's new file
      Deno.chmodSync(`${s.mountpoint}/meta.txt`, 0o600);
      const copied = Deno.readTextFileSync(`${s.upper}/meta.txt`);
      const metacopy = getXattr(`${s.upper}/meta.txt`, "trusted.overlay.metacopy") !== null;
      assert.deepEqual(
        [copied, metacopy],
        mode === "privileged" ? ["\0".repeat(13), true] : ["metadata only", false],
      );
      mounts.unmount();
      assert.equal(mountedAt(s.mountpoint), null);
      assert.equal(mounts.mounted.length, 0);
    },
  });
}

Deno.test({
  name: "mounting replaces an overlay already on the mountpoint (a restarted daemon's view)",
  ignore: !ROOT,
  fn: () => {
    using l = new Layout();
    const s = l.specs[0]!;
    Deno.mkdirSync(s.mountpoint);
    Deno.mkdirSync(s.work, { recursive: true });
    mount("overlay", s.mountpoint, "overlay", overlayOptions(s, "privileged"));
    const m = mountOverlay(s, "privileged");
    assert.deepEqual([m.replaced, m.created], [true, false]);
    const stacked = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
      .filter((line) => line.split(" ")[4] === s.mountpoint);
    assert.equal(stacked.length, 1, "one overlay there, not two stacked");
    assert.equal(Deno.readTextFileSync(`${s.mountpoint}/remote.txt`), "from a peer");
  },
});

Deno.test({
  name: "paths with , and : mount (arena names may hold a colon)",
  ignore: !ROOT,
  fn: () => {
    using l = new Layout(["a:b,c"]);
    const s = l.specs[0]!;
    using _mounts = OverlayMounts.mount(l.specs, "privileged");
    assert.equal(Deno.readTextFileSync(`${s.mountpoint}/remote.txt`), "from a peer");
    Deno.writeTextFileSync(`${s.mountpoint}/new.txt`, "new");
    assert.equal(Deno.readTextFileSync(`${s.upper}/new.txt`), "new");
  },
});

Deno.test({
  name: "a failure names the arena and the directory, and leaves nothing mounted",
  ignore: !ROOT,
  fn: () => {
    using l = new Layout(["docs", "photos"]);
    const [docs, photos] = l.specs as [OverlaySpec, OverlaySpec];
    // The second arena's FUSE view is missing: the first one is detached again.
    Deno.removeSync(`${l.fuse}/photos`, { recursive: true });
    assert.throws(
      () => OverlayMounts.mount(l.specs, "privileged"),
      /Cannot mount the overlay of "photos" on ".*mnt1": its FUSE view ".*fuse\/photos" is not there \(is the daemon running with --fuse\?\)/,
    );
    assert.equal(mountedAt(docs.mountpoint), null, "all or nothing");
    // Something else is mounted on the mountpoint: not ours to replace.
    Deno.mkdirSync(docs.mountpoint, { recursive: true });
    mount("tmpfs", docs.mountpoint, "tmpfs", "size=1m");
    try {
      assert.throws(
        () => mountOverlay(docs, "privileged"),
        /Cannot mount the overlay of "docs" on ".*mnt0": tmpfs is mounted there \(busy\)/,
      );
      assert.equal(mountedAt(docs.mountpoint), "tmpfs");
    } finally {
      umount(docs.mountpoint);
    }
    Deno.removeSync(photos.upper);
    Deno.mkdirSync(`${l.fuse}/photos`);
    assert.throws(
      () => mountOverlay(photos, "privileged"),
      /Cannot mount the overlay of "photos" on ".*mnt1": the datadir ".*data1" is not a directory/,
    );
  },
});

Deno.test({
  name: "unmounting: a busy overlay stays (or is detached lazily); absent ones are skipped",
  ignore: !ROOT,
  fn: () => {
    using l = new Layout(["docs", "photos"]);
    const [docs, photos] = l.specs as [OverlaySpec, OverlaySpec];
    using mounts = OverlayMounts.mount(l.specs, "privileged");
    const open = Deno.openSync(`${docs.mountpoint}/remote.txt`);
    try {
      assert.throws(() => mounts.unmount(), /Cannot unmount ".*mnt0": in use/);
      assert.equal(mountedAt(docs.mountpoint), "overlay", "the busy one stays");
      assert.equal(mountedAt(photos.mountpoint), null, "the idle one is gone");
      const r = unmountOverlays(l.specs, { lazy: true });
      assert.deepEqual(
        [r.unmounted, r.absent, r.busy].map((x) => x.map((s) => s.arena)),
        [[], ["photos"], ["docs"]],
      );
      assert.equal(mountedAt(docs.mountpoint), null, "detached");
      const buf = new Uint8Array(64);
      const n = open.readSync(buf) ?? 0;
      assert.equal(
        new TextDecoder().decode(buf.subarray(0, n)),
        "from a peer",
        "its user reads on",
      );
    } finally {
      open.close();
    }
  },
});

Deno.test({
  name: "a deletion leaves a whiteout in the datadir that hides the path until it is removed",
  ignore: !ROOT,
  fn: () => {
    using l = new Layout();
    const s = l.specs[0]!;
    const mountOnce = () => OverlayMounts.mount(l.specs, "privileged");
    {
      using _m = mountOnce();
      Deno.removeSync(`${s.mountpoint}/remote.txt`);
      const w = Deno.lstatSync(`${s.upper}/remote.txt`);
      assert.ok(w.isCharDevice && w.rdev === 0, "a 0/0 character device");
    }
    Deno.writeTextFileSync(`${s.lower}/remote.txt`, "added again by a peer");
    {
      using _m = mountOnce();
      assert.throws(() => Deno.statSync(`${s.mountpoint}/remote.txt`), Deno.errors.NotFound);
    }
    Deno.removeSync(`${s.upper}/remote.txt`); // the whiteout, with the overlay unmounted
    using _m = mountOnce();
    assert.equal(Deno.readTextFileSync(`${s.mountpoint}/remote.txt`), "added again by a peer");
  },
});
