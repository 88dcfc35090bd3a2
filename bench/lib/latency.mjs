/**
 * Latency samples → percentiles. Generators record every response time (milliseconds, with
 * sub-microsecond resolution) in a growable Float64Array; a 5 s run at 50k req/s is 2 MB.
 */
export class LatencyRecorder {
  constructor(initial = 1 << 16) {
    this.values = new Float64Array(initial);
    this.count = 0;
  }

  record(ms) {
    if (this.count === this.values.length) {
      const next = new Float64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.count++] = ms;
  }

  summary() {
    return summarize(this.values.subarray(0, this.count));
  }
}

const r4 = (x) => Math.round(x * 10_000) / 10_000;

/** p50/p90/p99/p99.9/max/mean in ms (4 decimals), from unsorted samples. */
export function summarize(samples) {
  const n = samples.length;
  if (n === 0) return { count: 0, p50: null, p90: null, p99: null, p999: null, max: null, mean: null };
  const sorted = Float64Array.from(samples).sort();
  const at = (q) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return { count: n, p50: r4(at(0.5)), p90: r4(at(0.9)), p99: r4(at(0.99)), p999: r4(at(0.999)), max: r4(sorted[n - 1]), mean: r4(sum / n) };
}
