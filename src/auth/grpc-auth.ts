/**
 * The gRPC side of the auth policy: wraps a service implementation so every method checks the
 * `authorization` metadata against the scope it needs (scopes.ts: GRPC_METHOD_SCOPES) before
 * its handler runs. Health and reflection are separate services and stay public.
 */
import type * as grpc from '@grpc/grpc-js';
import type { AuthPolicy } from './auth-policy.js';
import { grpcMethodScope } from './scopes.js';

type Handler = (call: { metadata: grpc.Metadata; emit?: (ev: string, err: unknown) => unknown }, cb?: (err: grpc.ServiceError | null) => void) => void;

/** `impl` with every method guarded; `fail` turns a thrown catalog error into the gRPC error. */
export function guardService<T extends object>(impl: T, policy: AuthPolicy, fail: (err: unknown) => grpc.ServiceError): T {
  if (!policy.enabled && !Object.keys(impl).some((m) => grpcMethodScope(m) === 'admin')) return impl;
  const out: Record<string, Handler> = {};
  for (const [method, inner] of Object.entries(impl as Record<string, Handler>)) {
    const scope = grpcMethodScope(method);
    out[method] = (call, cb) => {
      try {
        const value = call.metadata.get('authorization')[0];
        policy.check(typeof value === 'string' ? value : value?.toString('utf8'), scope);
      } catch (err) {
        if (typeof cb === 'function') cb(fail(err));
        else call.emit?.('error', fail(err));
        return;
      }
      inner(call, cb);
    };
  }
  return out as T;
}
