import assert from "node:assert/strict";
import { escapeLabelValue, formatSampleValue, renderPrometheus } from "./prometheus.ts";

Deno.test("renderPrometheus() writes HELP, TYPE and samples; nothing for no metrics", () => {
  assert.equal(renderPrometheus([]), "");
  const text = renderPrometheus([
    {
      name: "realize_bytes_sent_total",
      help: "Bytes sent to a peer.",
      type: "counter",
      samples: [{ labels: { peer: "laptop", arena: "photos/2024" }, value: 1234 }],
    },
    { name: "realize_up", help: "", type: "gauge", samples: [] },
  ]);
  assert.equal(
    text,
    "# HELP realize_bytes_sent_total Bytes sent to a peer.\n" +
      "# TYPE realize_bytes_sent_total counter\n" +
      'realize_bytes_sent_total{peer="laptop",arena="photos/2024"} 1234\n' +
      "# HELP realize_up \n# TYPE realize_up gauge\n",
  );
});

Deno.test("escapeLabelValue() and formatSampleValue() follow the text format", () => {
  assert.equal(escapeLabelValue('C:\\dir "x"\ny'), 'C:\\\\dir \\"x\\"\\ny');
  assert.deepEqual([NaN, Infinity, -Infinity, 0.5, -2, 1e21].map(formatSampleValue), [
    "NaN",
    "+Inf",
    "-Inf",
    "0.5",
    "-2",
    "1e+21",
  ]);
});

Deno.test("renderPrometheus() throws TypeError for bad names and repeated metrics", () => {
  const m = (name: string, labels: Record<string, string> = {}) => ({
    name,
    help: "h",
    type: "gauge" as const,
    samples: [{ labels, value: 1 }],
  });
  assert.throws(() => renderPrometheus([m("1abc")]), /^TypeError: Invalid metric name "1abc"$/);
  assert.throws(() => renderPrometheus([m("a-b")]), TypeError);
  assert.throws(() => renderPrometheus([m("a", { "x-y": "1" })]), /Invalid label name "x-y"/);
  assert.throws(() => renderPrometheus([m("a", { __name__: "1" })]), TypeError);
  assert.throws(() => renderPrometheus([m("a"), m("a")]), /"a" appears twice/);
});
