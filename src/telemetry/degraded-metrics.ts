/**
 * Exposes the degraded-mode counts (serving/degraded-counters.ts) and the circuit breaker's state
 * as metrics, copied at scrape time: nothing is recorded per request beyond the counters' own
 * number writes. Returns the function that stops it (for the close stack).
 */
import type { BreakerState } from '../serving/circuit-breaker.js';
import type { DegradedCounters } from '../serving/degraded-counters.js';
import { beforeScrape, metrics } from './metrics.js';

export function collectDegraded(counters: DegradedCounters, breaker: { readonly state: BreakerState }): () => void {
  return beforeScrape(() => {
    for (const s of counters.snapshot()) metrics.degradedResults.labels(s.dataset, s.kind).value = s.count;
    metrics.breakerOpen.labels().set(breaker.state === 'closed' ? 0 : 1);
  });
}
