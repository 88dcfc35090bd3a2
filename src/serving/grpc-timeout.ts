/**
 * The `grpc-timeout` request header (gRPC over HTTP/2: `1*8DIGIT unit`, unit one of H M S m u n),
 * parsed exactly as grpc-js's server does (server-interceptors.ts), so the fast path
 * (grpc-h2-server.ts) and grpc-js agree on every value: the first `digits unit` match anywhere
 * in the value counts, and the milliseconds are truncated to an integer (`500u` is 0 ms: the
 * deadline has passed on arrival).
 */

const TIMEOUT = /(\d{1,8})\s*([HMSmun])/;
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000_001 };

/** Milliseconds the header allows (an integer ≥ 0), or null when it does not parse (grpc-js answers INTERNAL). */
export function parseGrpcTimeout(value: string): number | null {
  const m = TIMEOUT.exec(value);
  if (m === null) return null;
  return (Number(m[1]) * UNIT_MS[m[2]!]!) | 0;
}

/** grpc-js's status message for a value that does not parse. */
export function invalidTimeoutMessage(value: string): string {
  return `Invalid grpc-timeout value "${value}"`;
}
