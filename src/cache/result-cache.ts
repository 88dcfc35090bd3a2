/**
 * The in-process LRU of decoded results, bounded by (approximate) bytes. Keys include the dataset
 * version, so a newly published version is never answered from an older version's entries; those
 * simply age out. Negative results (no row) are cached for negativeTtlMs only, so per-entity
 * changes between loads (live updates) become visible quickly. Concurrent misses on one key share
 * one Redis read (single-flight).
 *
 * Admission: a key enters the LRU on its second miss within a window (a "doorkeeper" bitmap, as
 * in TinyLFU). Keys read once — most of them when the working set dwarfs the cache — are served
 * and dropped young instead of evicting hot entries and churning the old-generation heap (the
 * GC cost measured in BENCHMARKS.md). A hot key costs one extra Redis read.
 */
import { LRUCache } from 'lru-cache';
import type { DatasetResult } from '../serving/dataset-result.js';

export interface CacheStats {
  hits: number;
  misses: number;
  sharedMisses: number;
}

/** A fixed bitmap of recently seen key hashes, cleared when an eighth of it is set. */
class Doorkeeper {
  private readonly bits = new Uint32Array(1 << 17); // 2^22 bits = 512 KiB
  private added = 0;

  /** True when `key` was probably seen since the last reset; records it either way. */
  seenBefore(key: string): boolean {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const bit = (h >>> 0) & ((1 << 22) - 1);
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    const w = this.bits[word] as number;
    if ((w & mask) !== 0) return true;
    this.bits[word] = w | mask;
    if (++this.added > (1 << 22) / 8) {
      this.bits.fill(0);
      this.added = 0;
    }
    return false;
  }
}

export class ResultCache {
  private readonly doorkeeper = new Doorkeeper();
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
    if (!this.lru || !this.doorkeeper.seenBefore(key)) return;
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

  get maxBytes(): number {
    return this.lru?.maxSize ?? 0;
  }

  clear(): void {
    this.lru?.clear();
  }
}
