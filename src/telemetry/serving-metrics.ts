/**
 * Scrape-time collection of a serving app's in-process state: the result cache's counters and
 * size (kept by the cache itself, so nothing is recorded per lookup for them), Redis reachability
 * and, per dataset, the served version and the age of its snapshot. The app registers itself on
 * start and unregisters on close (src/app.ts).
 */
import { beforeScrape, metrics } from './metrics.js';

export interface CacheView {
  readonly stats: { readonly hits: number; readonly misses: number; readonly sharedMisses: number; readonly invalidations: number; readonly evictions?: number };
  readonly sizeBytes: number;
  readonly entries: number;
}

export interface ServedView {
  readonly id: number;
  /** As-of time of the snapshot in µs since the epoch. */
  readonly asOfMicros: bigint;
  /** RFC 3339: when it became the current version. */
  readonly since: string;
}

export interface ServingSource {
  readonly cache: CacheView;
  readonly cacheMaxBytes: number;
  readonly datasets: readonly string[];
  readonly served: (dataset: string) => ServedView | undefined;
  readonly redisUp: () => boolean;
}

const sources = new Set<ServingSource>();

function collectCache(): void {
  let hits = 0, misses = 0, shared = 0, inval = 0, evict = 0, bytes = 0, max = 0, entries = 0;
  for (const s of sources) {
    hits += s.cache.stats.hits;
    misses += s.cache.stats.misses;
    shared += s.cache.stats.sharedMisses;
    inval += s.cache.stats.invalidations;
    evict += s.cache.stats.evictions ?? 0;
    bytes += s.cache.sizeBytes;
    entries += s.cache.entries;
    max += s.cacheMaxBytes;
  }
  metrics.cacheHits.labels().value = hits;
  metrics.cacheMisses.labels().value = misses;
  metrics.cacheSharedMisses.labels().value = shared;
  metrics.cacheInvalidations.labels().value = inval;
  metrics.cacheEvictions.labels().value = evict;
  metrics.cacheBytes.labels().set(bytes);
  metrics.cacheEntries.labels().set(entries);
  metrics.cacheMaxBytes.labels().set(max);
}

function collectDatasets(): void {
  const now = Date.now() / 1000;
  for (const family of [metrics.datasetVersion, metrics.datasetAsOf, metrics.datasetAge, metrics.datasetServingSince]) family.reset();
  let up = sources.size > 0 ? 1 : 0;
  for (const s of sources) {
    if (!s.redisUp()) up = 0;
    for (const d of s.datasets) {
      const v = s.served(d);
      if (!v) continue;
      const asOf = Number(v.asOfMicros) / 1e6;
      metrics.datasetVersion.labels(d).set(v.id);
      metrics.datasetAsOf.labels(d).set(asOf);
      metrics.datasetAge.labels(d).set(Math.max(0, now - asOf));
      const since = Date.parse(v.since);
      if (Number.isFinite(since)) metrics.datasetServingSince.labels(d).set(since / 1000);
    }
  }
  metrics.redisUp.labels().set(up);
}

// Registered once: each runs over every registered app.
beforeScrape(collectCache);
beforeScrape(collectDatasets);

/** Adds an app's state to every scrape; returns the function that removes it. */
export function registerServingSource(source: ServingSource): () => void {
  sources.add(source);
  return () => {
    sources.delete(source);
  };
}
