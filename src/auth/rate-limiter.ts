/**
 * Per-key token buckets: each key refills `rps` tokens a second up to `burst`; a call takes one.
 * Buckets live in this process only (each replica limits on its own).
 */
export interface RateLimit {
  readonly rps: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Takes a token from `key`'s bucket: 0 when allowed, else the milliseconds until one is there. */
  take(key: string, limit: RateLimit): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: limit.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(limit.burst, b.tokens + ((t - b.at) / 1000) * limit.rps);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / limit.rps) * 1000);
  }
}
