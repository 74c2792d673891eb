// The layout tables against the C compiler's view of the libfuse3 headers (when installed).
import assert from "node:assert/strict";
import {
  CONN_INFO,
  ENTRY_PARAM,
  FILE_INFO,
  FORGET_DATA,
  FUSE_ARGS,
  FUSE_BUF,
  FUSE_BUFVEC,
  LOWLEVEL_OPS,
  STAT,
} from "./structs.ts";

const HEADERS = (() => {
  try {
    const cc = new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
    return cc && Deno.statSync("/usr/include/fuse3/fuse_lowlevel.h").isFile;
  } catch {
    return false;
  }
})();

/** Field name in the table → C member (null: not addressable, e.g. a bitfield word). */
const MEMBERS: Record<string, string | null> = {
  st_atim_sec: "st_atim.tv_sec",
  st_atim_nsec: "st_atim.tv_nsec",
  st_mtim_sec: "st_mtim.tv_sec",
  st_mtim_nsec: "st_mtim.tv_nsec",
  st_ctim_sec: "st_ctim.tv_sec",
  st_ctim_nsec: "st_ctim.tv_nsec",
  bits: null,
};

/** Every layout table, by its C type. */
const TABLES: Record<string, { size: number; fields: Record<string, readonly [number, string]> }> =
  {
    "struct stat": STAT,
    "struct fuse_entry_param": ENTRY_PARAM,
    "struct fuse_file_info": FILE_INFO,
    "struct fuse_args": FUSE_ARGS,
    "struct fuse_lowlevel_ops": LOWLEVEL_OPS,
    "struct fuse_forget_data": FORGET_DATA,
    "struct fuse_buf": FUSE_BUF,
    "struct fuse_bufvec": FUSE_BUFVEC,
    "struct fuse_conn_info": CONN_INFO,
  };

function probeSource(): string {
  const lines: string[] = [];
  for (const [struct, layout] of Object.entries(TABLES)) {
    lines.push(`  printf("${struct}|sizeof|%zu\\n", sizeof(${struct}));`);
    for (const field of Object.keys(layout.fields)) {
      const m = field in MEMBERS ? MEMBERS[field] : field;
      if (m === null || m === undefined) continue;
      lines.push(`  printf("${struct}|${field}|%zu\\n", offsetof(${struct}, ${m}));`);
    }
  }
  return [
    "#define FUSE_USE_VERSION 314",
    "#include <stddef.h>",
    "#include <stdio.h>",
    "#include <sys/stat.h>",
    "#include <fuse3/fuse_lowlevel.h>",
    "int main(void) {",
    ...lines,
    "  return 0;",
    "}",
  ].join("\n");
}

Deno.test({
  name: "libfuse3 layouts match offsetof and sizeof from the headers",
  ignore: !HEADERS,
  fn: () => {
    const dir = Deno.makeTempDirSync({ prefix: "realize-fuse-structs-" });
    try {
      Deno.writeTextFileSync(`${dir}/probe.c`, probeSource());
      const cc = new Deno.Command("cc", {
        args: ["-I/usr/include/fuse3", "-o", `${dir}/probe`, `${dir}/probe.c`],
      }).outputSync();
      assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
      const out = new TextDecoder().decode(new Deno.Command(`${dir}/probe`).outputSync().stdout);
      for (const line of out.trim().split("\n")) {
        const [struct, field, value] = line.split("|");
        const layout = TABLES[struct!]!;
        const want = field === "sizeof" ? layout.size : layout.fields[field!]![0];
        assert.equal(Number(value), want, `${struct}.${field}`);
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
