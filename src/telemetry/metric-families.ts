/**
 * Counters, gauges and histograms that cost the hot path nothing but a few number writes:
 * callers bind a child per label set once (at start, or the first time a label set is seen) and
 * then call `inc()` / `observe()` on it, which touch only fields and a Float64Array. prom-client's
 * own metrics hash their labels into a string and allocate an object on every call; these are
 * registered in a prom-client Registry (metrics-registry.ts) only to reuse its text exposition.
 *
 * Values that already live elsewhere (cache sizes, the served versions) are copied in before
 * each scrape (metrics.ts beforeScrape): nothing is recorded per request for them.
 */

type Labels = Readonly<Record<string, string>>;

/** One exposition sample, as prom-client's Registry expects from `get()`. */
interface Sample {
  readonly value: number;
  readonly labels: Labels;
  readonly metricName?: string;
}

/** What prom-client's Registry reads from a registered metric. */
export interface ExposedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: Sample[] }>;
  reset(): void;
}

const SEP = '\u0000';

abstract class Family<Child> implements ExposedMetric {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator = 'sum' as const;
  protected readonly children = new Map<string, { labels: Labels; child: Child }>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  protected abstract newChild(): Child;

  /** The child for these label values (in labelNames order), created on first use. */
  labels(...values: string[]): Child {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: expected labels ${this.labelNames.join(', ')}, got ${values.length} values`);
    const key = values.join(SEP);
    const found = this.children.get(key);
    if (found) return found.child;
    const labels: Record<string, string> = {};
    this.labelNames.forEach((n, i) => { labels[n] = values[i] as string; });
    const child = this.newChild();
    this.children.set(key, { labels, child });
    return child;
  }

  /** Forgets a label set (e.g. a dataset no longer served). */
  remove(...values: string[]): void {
    this.children.delete(values.join(SEP));
  }

  protected abstract samples(labels: Labels, child: Child, out: Sample[]): void;

  async get(): Promise<{ name: string; help: string; type: string; aggregator: 'sum'; values: Sample[] }> {
    const values: Sample[] = [];
    for (const { labels, child } of this.children.values()) this.samples(labels, child, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.children.clear();
  }
}

export class CounterChild {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

export class CounterFamily extends Family<CounterChild> {
  readonly type = 'counter' as const;
  protected newChild(): CounterChild {
    return new CounterChild();
  }
  protected samples(labels: Labels, child: CounterChild, out: Sample[]): void {
    out.push({ value: child.value, labels });
  }
}

export class GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
}

export class GaugeFamily extends Family<GaugeChild> {
  readonly type = 'gauge' as const;
  protected newChild(): GaugeChild {
    return new GaugeChild();
  }
  protected samples(labels: Labels, child: GaugeChild, out: Sample[]): void {
    out.push({ value: child.value, labels });
  }
}

export class HistogramChild {
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    // Linear: most observations fall in the first few (sub-millisecond) buckets.
    while (i < b.length && value > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }

  /** Observes the seconds elapsed since `startMs` (a performance.now() reading). */
  observeSince(startMs: number): void {
    this.observe((performance.now() - startMs) / 1000);
  }
}

export class HistogramFamily extends Family<HistogramChild> {
  readonly type = 'histogram' as const;
  private readonly bounds: Float64Array;
  private readonly boundLabels: string[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.bounds = Float64Array.from([...buckets].sort((a, b) => a - b));
    this.boundLabels = [...this.bounds].map((b) => String(b));
  }

  protected newChild(): HistogramChild {
    return new HistogramChild(this.bounds);
  }

  protected samples(labels: Labels, child: HistogramChild, out: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += child.counts[i] as number;
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: this.boundLabels[i] as string }, value: cumulative });
    }
    out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: child.count });
    out.push({ metricName: `${this.name}_sum`, labels, value: child.sum });
    out.push({ metricName: `${this.name}_count`, labels, value: child.count });
  }
}

/**
 * Latency buckets in seconds, from 50 µs (a cache hit) to 2.5 s: sub-millisecond resolution
 * where malt answers, coarse above the default request timeout.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
