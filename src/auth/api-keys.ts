/**
 * API keys as configured: a name, the SHA-256 of the token (never the token itself), scopes and
 * an optional rate limit. Matching hashes the presented token once and compares the digest with
 * every key in constant time, so neither a match nor which key matched shows in the timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RateLimit } from './rate-limiter.js';
import type { Scope } from './scopes.js';

export interface ApiKeyConfig {
  readonly name: string;
  /** 64 lower-case hex digits: sha256 of the token. */
  readonly hash: string;
  readonly scopes: readonly Scope[];
  readonly rateLimit: RateLimit | null;
}

export interface ApiKey {
  readonly name: string;
  readonly digest: Buffer;
  readonly scopes: ReadonlySet<Scope>;
  readonly rateLimit: RateLimit | null;
}

/** `sha256:<hex>` as written in the config for a token (what `malt` docs tell users to run). */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

export class KeyRing {
  readonly keys: readonly ApiKey[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.keys = keys.map((k) => ({ name: k.name, digest: Buffer.from(k.hash, 'hex'), scopes: new Set(k.scopes), rateLimit: k.rateLimit }));
  }

  get size(): number {
    return this.keys.length;
  }

  /** The key whose hash is the token's, or null. Compares against every key, whatever matches. */
  match(token: string): ApiKey | null {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: ApiKey | null = null;
    for (const key of this.keys) {
      const same = timingSafeEqual(digest, key.digest);
      if (same && found === null) found = key;
    }
    return found;
  }
}

/** The token of an `Authorization: Bearer <token>` value (scheme case-insensitive, RFC 9110 §11.1), or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^bearer +(\S.*)$/i.exec(header);
  return m ? m[1]!.trim() : null;
}
