/**
 * How long `malt sync` waits before the next poll of a dataset (pure functions; no timers).
 * - after a poll that did its job (published, unchanged, or found another loader at work):
 *   the interval × (1 ± jitter × random), so replicas started together drift apart;
 * - after the n-th failure in a row: base × 2^(n−1), capped at the interval, with the same
 *   jitter (so a broken source is retried quickly at first, then once per interval).
 */

/** The first retry after a failure waits this long (default of backoffBaseMs). */
export const DEFAULT_BACKOFF_BASE_MS = 1000;

/** `ms` × (1 + jitter × u) for u uniform in [−1, 1); jitter 0 gives `ms` exactly. */
export function withJitter(ms: number, jitter: number, random: () => number = Math.random): number {
  return Math.max(0, Math.round(ms * (1 + jitter * (2 * random() - 1))));
}

/** The wait after `failures` failures in a row (≥ 1), before jitter: base × 2^(failures−1), at most `capMs`. */
export function backoffMs(failures: number, baseMs: number, capMs: number): number {
  const exp = Math.min(Math.max(failures, 1) - 1, 30);
  return Math.min(capMs, baseMs * 2 ** exp);
}

export interface DelayPolicy {
  readonly intervalMs: number;
  readonly jitter: number;
  /** Default DEFAULT_BACKOFF_BASE_MS (1 s). */
  readonly backoffBaseMs?: number;
}

/** The wait before the next poll: after a success (`failures` 0) or the n-th failure in a row. */
export function nextDelayMs(policy: DelayPolicy, failures: number, random: () => number = Math.random): number {
  const base = failures === 0 ? policy.intervalMs : backoffMs(failures, policy.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS, policy.intervalMs);
  return withJitter(base, policy.jitter, random);
}
