/**
 * Prometheus text exposition format 0.0.4 (what `GET /metrics` answers):
 *
 * ```text
 * # HELP realize_peer_connected Whether a peer is connected (1) or not (0).
 * # TYPE realize_peer_connected gauge
 * realize_peer_connected{peer="laptop"} 1
 * ```
 *
 * @module
 */

import type { Metric } from "./api.ts";

/** The `Content-Type` of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Escapes a `# HELP` text: backslash and line feed.
 *
 * @param text the help text
 * @returns the escaped text
 */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/**
 * Escapes a label value: backslash, double quote and line feed.
 *
 * @param text the label value
 * @returns the escaped text (without the surrounding quotes)
 */
export function escapeLabelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/**
 * A sample value as the format spells it: `NaN`, `+Inf`, `-Inf` or a JS number.
 *
 * @param value the value
 * @returns its text
 */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelSet(metric: string, labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels);
  if (names.length === 0) return "";
  const parts = names.map((name) => {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new TypeError(`Invalid label name "${name}" of metric "${metric}"`);
    }
    return `${name}="${escapeLabelValue(labels[name]!)}"`;
  });
  return `{${parts.join(",")}}`;
}

/**
 * Renders metrics as Prometheus text (format 0.0.4): for each metric a `# HELP` line,
 * a `# TYPE` line and one line per sample, with escaped label values.
 *
 * @param metrics the metrics, each name once
 * @returns the exposition text, ending with a line feed (empty when there are no metrics)
 * @throws {TypeError} for an invalid or repeated metric name or an invalid label name
 * (a bug of whoever built the metrics)
 */
export function renderPrometheus(metrics: readonly Metric[]): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const m of metrics) {
    if (!METRIC_NAME.test(m.name)) throw new TypeError(`Invalid metric name "${m.name}"`);
    if (seen.has(m.name)) throw new TypeError(`Invalid metrics: "${m.name}" appears twice`);
    seen.add(m.name);
    lines.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      lines.push(`${m.name}${labelSet(m.name, s.labels)} ${formatSampleValue(s.value)}`);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
