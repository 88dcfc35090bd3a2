/**
 * The `malt.lookup` span (request → lookup/cache → Redis read): installed over a Lookup's get()
 * and its callback form lookup() (the HTTP routes) only when tracing is on (src/app.ts), so the
 * read path itself carries no tracing code. The span's attributes say how the cache answered:
 * both consult the cache synchronously before they wait, so the cache counters' change across
 * that call is this request's.
 */
import { type Attributes, SpanStatusCode } from '@opentelemetry/api';
import { tracer } from './tracing.js';

interface CacheCounters {
  readonly hits: number;
  readonly misses: number;
  readonly sharedMisses: number;
}

type Get = (entityIds: readonly string[], datasets: readonly string[], timeoutMs?: number) => Promise<unknown[]>;
type Done = (err: unknown, results: unknown[] | null) => void;
type Look = (entityIds: readonly string[], datasets: readonly string[], done: Done, timeoutMs?: number) => void;

/** The span's attributes: the request's size and how the cache answered it (counters since `before`). */
function lookupAttributes(entityIds: readonly string[], datasets: readonly string[], stats: CacheCounters, before: { hits: number; misses: number; shared: number }): Attributes {
  return {
    'malt.entities': entityIds.length,
    'malt.datasets': datasets.join(','),
    'malt.cache.hits': stats.hits - before.hits,
    'malt.cache.misses': stats.misses - before.misses,
    'malt.cache.shared_misses': stats.sharedMisses - before.shared,
  };
}

export function traceLookups(lookup: { get: Get; lookup: Look }, stats: CacheCounters): void {
  const look = lookup.lookup.bind(lookup);
  lookup.lookup = (entityIds, datasets, done, timeoutMs) => tracer.startActiveSpan('malt.lookup', (span) => {
    const before = { hits: stats.hits, misses: stats.misses, shared: stats.sharedMisses };
    let ended = false;
    let attributed = false;
    const attributes = (): void => {
      if (attributed) return;
      attributed = true;
      span.setAttributes(lookupAttributes(entityIds, datasets, stats, before));
    };
    const traced: Done = (err, results) => {
      // A synchronous answer (all hits) comes before look() returns: attribute it first.
      attributes();
      if (!ended) {
        ended = true;
        if (err !== null) span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        span.end();
      }
      done(err, results);
    };
    look(entityIds, datasets, traced, timeoutMs);
    attributes();
  });
  const inner = lookup.get.bind(lookup);
  lookup.get = (entityIds, datasets, timeoutMs) => tracer.startActiveSpan('malt.lookup', (span) => {
    const before = { hits: stats.hits, misses: stats.misses, shared: stats.sharedMisses };
    let pending: Promise<unknown[]>;
    try {
      pending = timeoutMs === undefined ? inner(entityIds, datasets) : inner(entityIds, datasets, timeoutMs);
    } catch (err) {
      pending = Promise.reject(err);
    }
    span.setAttributes(lookupAttributes(entityIds, datasets, stats, before));
    return pending.then((r) => {
      span.end();
      return r;
    }, (err: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      span.end();
      throw err;
    });
  });
}
