import assert from "node:assert/strict";
import {
  checkLayout,
  FIELD_SIZE,
  readField,
  STATVFS,
  STATX,
  type StructLayout,
  writeField,
} from "./structs.ts";

/** Whether a C compiler is on PATH. */
function hasCc(): boolean {
  try {
    return new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** `stx_mtime_sec` → `stx_mtime.tv_sec`: the C member designator of a flattened field. */
function cMember(field: string): string {
  return field.replace(/_(sec|nsec)$/, ".tv_$1");
}

/**
 * Compiles and runs a probe printing `name offset size` per field and `sizeof N`.
 *
 * @param struct the C type, e.g. `struct statx`
 * @param header the header declaring it
 * @param layout the table to check
 * @param member maps a flattened field name to its C member designator
 */
function probe(
  struct: string,
  header: string,
  layout: StructLayout,
  member: (field: string) => string = (field) => field,
): Map<string, [number, number]> {
  const dir = Deno.makeTempDirSync({ prefix: "realize-structs-" });
  try {
    const lines = Object.keys(layout.fields).map((field) => {
      const m = member(field);
      return `  printf("${field} %zu %zu\\n", offsetof(${struct}, ${m}), ` +
        `sizeof(((${struct} *)0)->${m}));`;
    });
    const source = [
      "#define _GNU_SOURCE",
      "#include <stddef.h>",
      "#include <stdio.h>",
      `#include <${header}>`,
      "int main(void) {",
      ...lines,
      `  printf("sizeof %zu 0\\n", sizeof(${struct}));`,
      "  return 0;",
      "}",
    ].join("\n");
    Deno.writeTextFileSync(`${dir}/probe.c`, source);
    const cc = new Deno.Command("cc", { args: ["-o", `${dir}/probe`, `${dir}/probe.c`] })
      .outputSync();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    const run = new Deno.Command(`${dir}/probe`).outputSync();
    assert.ok(run.success);
    const out = new Map<string, [number, number]>();
    for (const line of new TextDecoder().decode(run.stdout).trim().split("\n")) {
      const [name, offset, size] = line.split(" ");
      out.set(name!, [Number(offset), Number(size)]);
    }
    return out;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Asserts that a C probe agrees with a layout table on every field and the size. */
function assertMatchesProbe(layout: StructLayout, probed: Map<string, [number, number]>): void {
  assert.deepEqual(probed.get("sizeof"), [layout.size, 0]);
  for (const [field, [offset, type]] of Object.entries(layout.fields)) {
    assert.deepEqual(probed.get(field), [offset, FIELD_SIZE[type]], field);
  }
}

Deno.test({
  name: "STATX matches offsetof and sizeof from a C probe",
  ignore: !hasCc(),
  fn() {
    assertMatchesProbe(STATX, probe("struct statx", "sys/stat.h", STATX, cMember));
  },
});

Deno.test({
  name: "STATVFS matches offsetof and sizeof from a C probe",
  ignore: !hasCc(),
  fn() {
    assertMatchesProbe(STATVFS, probe("struct statvfs", "sys/statvfs.h", STATVFS));
  },
});

Deno.test("checkLayout() accepts STATX and STATVFS", () => {
  checkLayout("struct statx", STATX);
  checkLayout("struct statvfs", STATVFS);
});

Deno.test("checkLayout() throws on overlap, overflow and misalignment", () => {
  const overlap: StructLayout = { size: 16, fields: { a: [0, "u64"], b: [4, "u32"] } };
  assert.throws(() => checkLayout("s", overlap), /Layout of s is wrong: b overlaps a/);
  const overflow: StructLayout = { size: 12, fields: { a: [8, "u64"] } };
  assert.throws(() => checkLayout("s", overflow), /a ends at 16 > 12/);
  const misaligned: StructLayout = { size: 16, fields: { a: [4, "u64"] } };
  assert.throws(() => checkLayout("s", misaligned), /a at 4 is misaligned/);
});

Deno.test("readField() round-trips every type, including negative and large 64-bit values", () => {
  const view = new DataView(new ArrayBuffer(32));
  view.setUint16(0, 0xfedc, true);
  view.setUint32(4, 0xfedcba98, true);
  view.setBigUint64(8, BigInt(Number.MAX_SAFE_INTEGER), true);
  view.setBigInt64(16, -1234567890123n, true);
  view.setBigInt64(24, 1n << 53n, true);
  assert.equal(readField(view, [0, "u16"]), 0xfedc);
  assert.equal(readField(view, [4, "u32"]), 0xfedcba98);
  assert.equal(readField(view, [8, "u64"]), Number.MAX_SAFE_INTEGER);
  assert.equal(readField(view, [16, "i64"]), -1234567890123);
  assert.throws(() => readField(view, [24, "u64"]), RangeError);
  assert.throws(() => readField(view, [24, "i64"]), RangeError);
});

Deno.test("writeField() writes 64-bit values as C reads them, negative and large ones too", () => {
  const view = new DataView(new ArrayBuffer(8));
  const cases: [number, bigint][] = [
    [0, 0n],
    [1, 1n],
    [0xffff_ffff, 0xffff_ffffn],
    [0x1_0000_0000, 0x1_0000_0000n],
    [Number.MAX_SAFE_INTEGER, BigInt(Number.MAX_SAFE_INTEGER)],
    [-1, -1n],
    [-0x1_0000_0000, -0x1_0000_0000n],
    [-1234567890123, -1234567890123n],
    [Number.MIN_SAFE_INTEGER, BigInt(Number.MIN_SAFE_INTEGER)],
    [2.9, 2n], // truncated, as C's conversion does
    [-2.9, -2n],
  ];
  for (const [value, want] of cases) {
    writeField(view, [0, "i64"], value);
    assert.equal(view.getBigInt64(0, true), want, `i64 ${value}`);
    if (value >= 0) {
      writeField(view, [0, "u64"], value);
      assert.equal(view.getBigUint64(0, true), want, `u64 ${value}`);
    }
  }
});
