/**
 * Counts of results served degraded, per dataset and kind (docs/degraded-modes.md): `stale`
 * (values of a snapshot older than max_age), `cached` (a cached result served while Redis could
 * not be read), `defaults` (the configured defaults served instead), `unavailable` (a result that
 * no fallback could answer: the request failed with STORE_UNAVAILABLE). Plain number writes on
 * the request path; the metrics module reads them at scrape time (snapshot()) or subscribes.
 */
export type DegradedKind = 'stale' | 'cached' | 'defaults' | 'unavailable';

export const DEGRADED_KINDS: readonly DegradedKind[] = ['stale', 'cached', 'defaults', 'unavailable'];

type Counts = Record<DegradedKind, number>;

export class DegradedCounters {
  private readonly byDataset = new Map<string, Counts>();
  private listener: ((dataset: string, kind: DegradedKind, n: number) => void) | null = null;

  /** Adds `n` results of `dataset` served as `kind`. */
  add(dataset: string, kind: DegradedKind, n = 1): void {
    let c = this.byDataset.get(dataset);
    if (c === undefined) {
      c = { stale: 0, cached: 0, defaults: 0, unavailable: 0 };
      this.byDataset.set(dataset, c);
    }
    c[kind] += n;
    this.listener?.(dataset, kind, n);
  }

  /** The count so far (0 when none). */
  get(dataset: string, kind: DegradedKind): number {
    return this.byDataset.get(dataset)?.[kind] ?? 0;
  }

  /** Every dataset's counts so far (a copy), for a scrape. */
  snapshot(): { dataset: string; kind: DegradedKind; count: number }[] {
    const out: { dataset: string; kind: DegradedKind; count: number }[] = [];
    for (const [dataset, c] of this.byDataset) for (const kind of DEGRADED_KINDS) out.push({ dataset, kind, count: c[kind] });
    return out;
  }

  /** Told of every add (one listener: the metrics module's counter); null removes it. */
  onAdd(fn: ((dataset: string, kind: DegradedKind, n: number) => void) | null): void {
    this.listener = fn;
  }
}
