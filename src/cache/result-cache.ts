/**
 * The in-process LRU of decoded results, bounded by (approximate) bytes. Keys include the dataset
 * version, so a newly published version is never answered from an older version's entries; those
 * simply age out. Negative results (no row) are cached for negativeTtlMs only. Concurrent misses
 * on one key share one Redis read (single-flight).
 *
 * Real-time updates (docs/updates.md) invalidate single keys: invalidate() drops the entry and
 * forgets the read under way, and a read that began before it carries a stale ticket (the key's
 * epoch when the read began), so its answer is returned to its callers but never cached: an
 * in-flight read cannot put the old value back after the update.
 *
 * The read path inserts through offer(): while the cache is full, a key's first miss is not
 * inserted, its second is (admission-filter.ts), so reads over a key set far larger than the
 * cache do not turn every miss into an eviction. set() inserts unconditionally.
 */
import { LRUCache } from 'lru-cache';
import { AdmissionFilter } from './admission-filter.js';
import type { DatasetResult } from '../model/dataset-result.js';

/** A read of one key under way (serving/read-flight.ts's MissSlot); concurrent misses of the key join it. */
export interface InFlightRead {
  readonly key: string;
}

export interface CacheStats {
  hits: number;
  misses: number;
  sharedMisses: number;
  invalidations: number;
  /** Entries dropped to stay within maxBytes (exported as malt_cache_evictions_total). */
  evictions: number;
  /** Results of first misses not inserted because the cache was full (admission-filter.ts). */
  notAdmitted: number;
}

export class ResultCache {
  private readonly lru: LRUCache<string, DatasetResult> | null;
  private readonly inflight = new Map<string, InFlightRead>();
  /** The ticket of the read under way per key (reads of update-enabled datasets only). */
  private readonly tickets = new Map<string, number>();
  private ticketSeq = 0;
  private readonly negativeTtlMs: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, sharedMisses: 0, invalidations: 0, evictions: 0, notAdmitted: 0 };
  private readonly maxBytes: number;
  private readonly admission = new AdmissionFilter();

  /** maxBytes 0 disables caching (single-flight still applies). */
  constructor(maxBytes: number, negativeTtlMs: number) {
    this.negativeTtlMs = negativeTtlMs;
    this.maxBytes = maxBytes;
    this.lru = maxBytes > 0
      ? new LRUCache<string, DatasetResult>({
          maxSize: maxBytes,
          sizeCalculation: entrySize,
          ttlAutopurge: false,
          allowStale: false,
          // Called on removals only (not on hits): counts what the size bound pushed out.
          dispose: (_v, _k, reason) => {
            if (reason === 'evict') this.stats.evictions++;
          },
        })
      : null;
  }

  get(key: string): DatasetResult | undefined {
    const v = this.lru?.get(key);
    if (v !== undefined) this.stats.hits++;
    return v;
  }

  set(key: string, value: DatasetResult): void {
    if (!this.lru) return;
    if (value.found) this.lru.set(key, value);
    else if (this.negativeTtlMs > 0) this.lru.set(key, value, { ttl: this.negativeTtlMs });
  }

  /**
   * set() for a result just read from Redis: while inserting it would evict, only a key that
   * missed before within the admission window goes in (admission-filter.ts).
   */
  offer(key: string, value: DatasetResult): void {
    const lru = this.lru;
    if (!lru || (!value.found && this.negativeTtlMs <= 0)) return;
    const size = entrySize(value, key);
    // The window: 8× the entries the cache holds (admission-filter.ts).
    if (lru.calculatedSize + size > this.maxBytes && !this.admission.seenBefore(key, Math.max(64, lru.size * 8))) {
      this.stats.notAdmitted++;
      return;
    }
    if (value.found) lru.set(key, value, { size });
    else lru.set(key, value, { size, ttl: this.negativeTtlMs });
  }

  /** Starts a read of `key` that invalidate() may overtake; pass the ticket to settle(). */
  begin(key: string): number {
    const ticket = ++this.ticketSeq;
    this.tickets.set(key, ticket);
    return ticket;
  }

  /** Ends the read with `ticket`: caches `value` (when given) only if no invalidate() came in between. */
  settle(key: string, ticket: number, value: DatasetResult | null): void {
    if (this.tickets.get(key) !== ticket) return;
    this.tickets.delete(key);
    if (value) this.offer(key, value);
  }

  /** Drops the cached result of `key` and the read under way for it (a later request reads anew). */
  invalidate(key: string): void {
    this.stats.invalidations++;
    this.lru?.delete(key);
    this.inflight.delete(key);
    this.tickets.delete(key);
  }

  /** invalidate() for every key that starts with `prefix` (after lost invalidation messages). */
  invalidatePrefix(prefix: string): void {
    if (this.lru) for (const key of [...this.lru.keys()]) if (key.startsWith(prefix)) this.lru.delete(key);
    for (const key of [...this.inflight.keys()]) if (key.startsWith(prefix)) this.inflight.delete(key);
    for (const key of [...this.tickets.keys()]) if (key.startsWith(prefix)) this.tickets.delete(key);
    this.stats.invalidations++;
  }

  /** A read already under way for this key, if any (counted as a shared miss). */
  pending(key: string): InFlightRead | undefined {
    const p = this.inflight.get(key);
    if (p) this.stats.sharedMisses++;
    return p;
  }

  /** pending() without counting: the caller counts a shared miss itself (sharedMiss()) when it joins another request's read. */
  peekPending(key: string): InFlightRead | undefined {
    return this.inflight.get(key);
  }

  sharedMiss(): void {
    this.stats.sharedMisses++;
  }

  /** Registers a read under way (counted as a miss); forget() it when it settles. */
  track(read: InFlightRead): void {
    this.stats.misses++;
    this.inflight.set(read.key, read);
  }

  /** The read settled: later misses of its key read anew (unless invalidate() already dropped it). */
  forget(read: InFlightRead): void {
    if (this.inflight.get(read.key) === read) this.inflight.delete(read.key);
  }

  get sizeBytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  get entries(): number {
    return this.lru?.size ?? 0;
  }
}

/** What one entry is charged: the result's bound (approxBytes) plus the key and the LRU's slot. */
function entrySize(value: DatasetResult, key: string): number {
  return value.approxBytes() + key.length * 2 + 64;
}
