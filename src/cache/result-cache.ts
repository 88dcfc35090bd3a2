/**
 * The in-process LRU of decoded results, bounded by (approximate) bytes. Keys include the dataset
 * version, so a newly published version is never answered from an older version's entries; those
 * simply age out. Negative results (no row) are cached for negativeTtlMs only, so per-entity
 * changes between loads (live updates) become visible quickly. Concurrent misses on one key share
 * one Redis read (single-flight).
 */
import { LRUCache } from 'lru-cache';
import type { DatasetResult } from '../model/dataset-result.js';

export interface CacheStats {
  hits: number;
  misses: number;
  sharedMisses: number;
}

export class ResultCache {
  private readonly lru: LRUCache<string, DatasetResult> | null;
  private readonly inflight = new Map<string, Promise<DatasetResult>>();
  private readonly negativeTtlMs: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, sharedMisses: 0 };

  /** maxBytes 0 disables caching (single-flight still applies). */
  constructor(maxBytes: number, negativeTtlMs: number) {
    this.negativeTtlMs = negativeTtlMs;
    this.lru = maxBytes > 0
      ? new LRUCache<string, DatasetResult>({
          maxSize: maxBytes,
          sizeCalculation: (value, key) => value.approxBytes() + key.length * 2 + 64,
          ttlAutopurge: false,
          allowStale: false,
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

  /** A read already under way for this key, if any. */
  pending(key: string): Promise<DatasetResult> | undefined {
    const p = this.inflight.get(key);
    if (p) this.stats.sharedMisses++;
    return p;
  }

  /** Registers a read under way; it is forgotten when it settles. */
  track(key: string, promise: Promise<DatasetResult>): void {
    this.stats.misses++;
    this.inflight.set(key, promise);
    const forget = (): void => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    };
    promise.then(forget, forget);
  }

  get sizeBytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  get entries(): number {
    return this.lru?.size ?? 0;
  }
}
