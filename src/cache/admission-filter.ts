/**
 * The cache's doorkeeper (TinyLFU's): a bitset of hashed keys that remembers which keys missed
 * recently. While the cache is full, a key read from Redis for the first time within the window
 * is not inserted (it would only evict another entry and become garbage later); its second miss
 * within the window is. The window is a few times what the cache holds: a key asked for again
 * only after more distinct misses than that would have been evicted before its next use anyway.
 * A key set far larger than the cache (uniform reads over millions of players) then churns the
 * LRU, and the heap, far less, while keys with any reuse stay cacheable. Fixed memory: at most
 * 128 KiB, sized for the window and allocated when the cache first fills.
 */
const MAX_BITS = 1 << 20;
const MIN_BITS = 1 << 12;

export class AdmissionFilter {
  private bits: Uint32Array | null = null;
  private mask = 0;
  private recorded = 0;

  /**
   * Records `key`; true when it was (probably) recorded before within the last `window` recorded
   * misses (the window is fixed in bits when first used; at most 1/8 of the bits are set, two
   * probes each, so about 5% false positives at worst).
   */
  seenBefore(key: string, window: number): boolean {
    let bits = this.bits;
    if (bits === null) {
      let n = MIN_BITS;
      while (n < window * 16 && n < MAX_BITS) n *= 2;
      bits = this.bits = new Uint32Array(n >>> 5);
      this.mask = n - 1;
    }
    // FNV-1a over the UTF-16 code units, then a second index from a remix of the same hash.
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const a = h & this.mask;
    const b = (Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 12) & this.mask;
    const seen = (bits[a >>> 5]! & (1 << (a & 31))) !== 0 && (bits[b >>> 5]! & (1 << (b & 31))) !== 0;
    if (!seen) {
      bits[a >>> 5]! |= 1 << (a & 31);
      bits[b >>> 5]! |= 1 << (b & 31);
      if (++this.recorded >= Math.min(window, (this.mask + 1) >>> 3)) {
        bits.fill(0);
        this.recorded = 0;
      }
    }
    return seen;
  }
}
