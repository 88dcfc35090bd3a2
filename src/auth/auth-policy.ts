/**
 * Who may call what, shared by both transports. Two modes:
 * - keys configured (`auth.keys` or `MALT_API_KEYS`): every data call needs a key holding the
 *   call's scope (`read`, `write`, `admin`); `serving.admin_token`, when set, is one more key with
 *   the `admin` scope only. Keys with a `rate_limit` are limited per key.
 * - no keys (`auth: none`, or loopback without keys): `read` calls are open; `write` (update
 *   pushes) and `admin` calls keep the earlier rollback rule: the admin token when one is set,
 *   else only on a loopback listener.
 * Errors: UNAUTHENTICATED (401), PERMISSION_DENIED (403), RATE_LIMITED (429), ADMIN_DISABLED (403).
 */
import { timingSafeEqual } from 'node:crypto';
import { MaltError } from '../errors.js';
import { type ApiKeyConfig, KeyRing, bearerToken, hashToken } from './api-keys.js';
import { isLoopbackHost } from './loopback.js';
import { RateLimiter } from './rate-limiter.js';
import type { Scope } from './scopes.js';

export interface AuthSettings {
  readonly auth: { readonly mode: 'keys' | 'none'; readonly keys: readonly ApiKeyConfig[] };
  readonly serving: { readonly host: string; readonly adminToken: string | null };
}

/** The name the admin token goes by when it is used as a key. */
export const ADMIN_TOKEN_KEY = 'admin_token';

export class AuthPolicy {
  private readonly ring: KeyRing;
  private readonly limiter: RateLimiter;
  private readonly adminToken: Buffer | null;
  private readonly loopback: boolean;

  constructor(settings: AuthSettings, limiter: RateLimiter = new RateLimiter()) {
    const token = settings.serving.adminToken;
    const keys = [...settings.auth.keys];
    if (keys.length > 0 && token !== null) {
      keys.push({ name: ADMIN_TOKEN_KEY, hash: hashToken(token).slice('sha256:'.length), scopes: ['admin'], rateLimit: null });
    }
    this.ring = new KeyRing(keys);
    this.limiter = limiter;
    this.adminToken = token === null ? null : Buffer.from(token);
    this.loopback = isLoopbackHost(settings.serving.host);
  }

  /** True when calls need an API key. */
  get enabled(): boolean {
    return this.ring.size > 0;
  }

  /**
   * Checks a call needing `scope` with its `authorization` value; returns the key's name (null
   * when open). Throws the catalog error the caller should answer with.
   */
  check(authorization: string | undefined, scope: Scope): string | null {
    if (!this.enabled) {
      // Without keys, writes (update pushes) follow the rollback rule too.
      if (scope === 'admin' || scope === 'write') this.checkLegacyAdmin(authorization);
      return null;
    }
    const token = bearerToken(authorization);
    if (token === null) throw new MaltError('UNAUTHENTICATED', 'this call needs an API key: send `Authorization: Bearer <token>` (gRPC: `authorization` metadata)');
    const key = this.ring.match(token);
    if (key === null) throw new MaltError('UNAUTHENTICATED', 'the API key matches no configured key');
    if (!key.scopes.has(scope)) throw new MaltError('PERMISSION_DENIED', `API key ${JSON.stringify(key.name)} lacks the "${scope}" scope this call needs`);
    if (key.rateLimit !== null) {
      const waitMs = this.limiter.take(key.name, key.rateLimit);
      if (waitMs > 0) throw new RateLimitedError(key.name, waitMs);
    }
    return key.name;
  }

  private checkLegacyAdmin(authorization: string | undefined): void {
    if (this.adminToken === null) {
      if (this.loopback) return;
      throw new MaltError('ADMIN_DISABLED', 'admin calls over the API are off on a server listening beyond loopback without keys; configure auth.keys with the admin scope (or serving.admin_token), or use `malt rollback`');
    }
    const given = Buffer.from(bearerToken(authorization) ?? '');
    if (given.length !== this.adminToken.length || !timingSafeEqual(given, this.adminToken)) {
      throw new MaltError('UNAUTHENTICATED', 'this admin call needs the header Authorization: Bearer <serving.admin_token>');
    }
  }
}

/** RATE_LIMITED with the wait, so HTTP can send Retry-After. */
export class RateLimitedError extends MaltError {
  constructor(keyName: string, readonly retryAfterMs: number) {
    super('RATE_LIMITED', `API key ${JSON.stringify(keyName)} is over its rate limit; retry in ${retryAfterMs} ms`);
  }
}
