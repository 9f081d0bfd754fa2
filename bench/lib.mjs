// Shared helpers for benchmarks: statistics, a table and one JSON line per figure.
// Benchmarks report; they never pass or fail on a time.

export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export const median = (values) => quantile(values, 0.5);

/** One figure: name, unit, median, p99 (or max for small samples), runs, peer. */
export function figure(name, unit, values, extra = {}) {
  const round = (x) => Math.round(x * 100) / 100;
  return {
    name,
    unit,
    median: round(median(values)),
    p99: round(quantile(values, 0.99)),
    max: round(Math.max(...values)),
    runs: values.length,
    peer: "stub",
    ...extra,
  };
}

export function report(figures) {
  const rows = figures.map((f) => [
    f.name,
    f.unit,
    String(f.median),
    String(f.p99),
    String(f.max),
    String(f.runs),
    f.peer,
  ]);
  const head = ["figure", "unit", "median", "p99", "max", "runs", "peer"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(line(head));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
  for (const f of figures) console.log(JSON.stringify(f));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
