// The inotify watch limit, for real: in a user namespace whose limit is 5 watches, a
// datadir of 20 directories cannot be watched; the arena says so and falls back to
// periodic full scans, which still pick up new files.
import assert from "node:assert/strict";
import { REPO, tempDir } from "./helpers.ts";

const HAS_UNSHARE = new Deno.Command("unshare", { args: ["-Ur", "true"] }).outputSync().success;

Deno.test({
  name: "the real falls back to periodic scans when the inotify watch limit is reached",
  ignore: !HAS_UNSHARE,
  fn: async () => {
    using tmp = tempDir();
    const datadir = `${tmp.path}/data`;
    for (let i = 0; i < 20; i++) await Deno.mkdir(`${datadir}/d${i}`, { recursive: true });
    await Deno.writeTextFile(`${datadir}/d0/first`, "1");
    const script = `echo 5 > /proc/sys/user/max_inotify_watches && exec "$0" run -A "$1" "$2" "$3"`;
    const child = new Deno.Command("unshare", {
      args: [
        "-Ur",
        "sh",
        "-c",
        script,
        Deno.execPath(),
        `${REPO}/tests/testdata/real_child.ts`,
        `${tmp.path}/work`,
        datadir,
      ],
      env: { REALIZE_TEST_POLL_MS: "100" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!pattern.test(seen)) {
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${pattern}: ${seen}`);
        const { value, done } = await lines.read();
        if (done) throw new Error(`child exited: ${seen}`);
        seen += value;
      }
    };
    try {
      await until(/started polling/);
      await until(/idle 1\n/);
      await Deno.writeTextFile(`${datadir}/d7/later`, "2");
      await until(/idle 2\n/);
    } finally {
      child.kill("SIGKILL");
      await lines.cancel();
      await child.status;
      const err = await stderr;
      assert.match(err, /WARN real: crash: Cannot watch ".*": the inotify watch limit is reached/);
      assert.match(err, /scanning every 0\.1 s instead/);
    }
  },
});
