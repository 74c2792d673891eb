/**
 * Benchmark reporting: every result is a ratio against a reference measured in the same
 * run, on the same machine, so numbers from busy or different machines stay comparable.
 *
 * @module
 */

/** One measured quantity and its reference. */
export interface Result {
  /** What was measured. */
  readonly name: string;
  /** Its rate, in `unit`. */
  readonly value: number;
  /** The reference's name. */
  readonly reference: string;
  /** The reference's rate, in the same unit. */
  readonly referenceValue: number;
  /** e.g. `rows/s`. */
  readonly unit: string;
}

/**
 * Times `fn` (best of `runs`) and returns operations per second.
 *
 * @param ops operations one call performs
 * @param fn the work
 * @param runs repetitions; the fastest counts (least disturbed by other load)
 * @returns operations per second
 */
export function rate(ops: number, fn: () => void, runs = 3): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    best = Math.min(best, performance.now() - t);
  }
  return ops / (best / 1000);
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(1);
}

/**
 * Formats results as a Markdown table (ratio = value / reference).
 *
 * @param results the results
 * @returns the table
 */
export function table(results: readonly Result[]): string {
  const rows = results.map((r) =>
    `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.reference}: ${
      fmt(r.referenceValue)
    } ${r.unit} | ${(r.value / r.referenceValue).toFixed(2)}× |`
  );
  return ["| measure | value | reference (same run) | ratio |", "|---|---|---|---|", ...rows]
    .join("\n");
}
