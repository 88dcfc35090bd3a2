/**
 * The HTTP side of the auth policy: one onRequest hook (before any body is read). A route
 * declares the scope it needs in its route config (`{ config: { scope: 'write' } }`); routes under
 * `/v1/` that declare none need `read`; other routes (health, readiness, /docs) are public.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MaltError, toMaltError } from '../errors.js';
import { type AuthPolicy, RateLimitedError } from './auth-policy.js';
import type { Scope } from './scopes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The API key scope this route needs; `public` for none. Default: `read` under /v1/, else public. */
    scope?: Scope | 'public';
  }
}

export function routeScope(req: FastifyRequest): Scope | null {
  const declared = req.routeOptions.config.scope;
  if (declared === 'public') return null;
  if (declared !== undefined) return declared;
  const url = req.routeOptions.url;
  return url !== undefined && url.startsWith('/v1/') ? 'read' : null;
}

export function addAuthHook(app: FastifyInstance, policy: AuthPolicy, sendError: (reply: FastifyReply, err: MaltError) => unknown): void {
  // A callback-style hook: no promise per request on the hot path.
  app.addHook('onRequest', (req, reply, done) => {
    const scope = routeScope(req);
    if (scope === null) {
      done();
      return;
    }
    try {
      policy.check(req.headers.authorization, scope);
    } catch (err) {
      if (err instanceof RateLimitedError) reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))));
      if (err instanceof MaltError && (err.code === 'UNAUTHENTICATED')) reply.header('www-authenticate', 'Bearer');
      sendError(reply, toMaltError(err));
      return;
    }
    done();
  });
}
