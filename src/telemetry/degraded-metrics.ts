/**
 * Exposes the degraded-mode counts (serving/degraded-counters.ts) and the circuit breaker's state
 * as metrics, copied at scrape time: nothing is recorded per request beyond the counters' own
 * number writes. Returns the function that stops it (for the close stack). Takes views of its
 * own (telemetry/ does not import serving/: no folder cycle).
 */
import { beforeScrape, metrics } from './metrics.js';

export interface DegradedCountsView {
  snapshot(): readonly { readonly dataset: string; readonly kind: string; readonly count: number }[];
}

export interface BreakerView {
  /** 'closed', 'open' or 'half-open'. */
  readonly state: string;
}

export function collectDegraded(counters: DegradedCountsView, breaker: BreakerView): () => void {
  return beforeScrape(() => {
    for (const s of counters.snapshot()) metrics.degradedResults.labels(s.dataset, s.kind).value = s.count;
    metrics.breakerOpen.labels().set(breaker.state === 'closed' ? 0 : 1);
  });
}
