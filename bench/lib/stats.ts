// Latency summaries and the Markdown tables the benchmarks print.

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile (p in 0..100) of ascending sorted values; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** A number for a table: fixed decimals, '–' when not a number. */
export function fmt(n: number, decimals = 1): string {
  return Number.isFinite(n) ? n.toFixed(decimals) : '–';
}

/** A Markdown table; cells are written as given. */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Rounds every number in a value to `decimals` places, for compact JSON. */
export function rounded<T>(value: T, decimals = 3): T {
  const f = 10 ** decimals;
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * f) / f : v)) as T;
}

/** The figures of one period of message traffic (a step, or a soak interval). */
export interface TrafficRow {
  sent: number;
  /** The rate the client managed to send at. */
  sentPerSecond: number;
  received: number;
  deliveredPerSecond: number;
  lost: number;
  duplicates: number;
  /** Send to receipt, both timed in the load generator. */
  latencyMs: Summary;
  serverCpuMsPer1000: number | null;
  /** CPU share of other processes on the machine (0..1), when known. */
  otherLoad: number | null;
  /** Sessions still open at the end of the period. */
  alive: number;
  /** The load generator's event-loop delay (p99, max) in ms: a pause there shows up as latency without being the server's. */
  clientLoopDelayMs: { p99: number; max: number };
}
