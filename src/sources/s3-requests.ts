/**
 * How the S3 store sends a request: at most `maxInFlight` at a time per store, each attempt bounded
 * by a timeout, failed attempts that may succeed again (throttling, 5xx, network errors,
 * timeouts) retried with capped exponential backoff and full jitter (AWS's recommended scheme:
 * spreads retries from many readers instead of synchronising them). The SDK's own retries are
 * off, so these are the only ones and the attempt count is exact.
 */
import { MaltError } from '../errors.js';
import { classifyS3Error } from './s3-errors.js';

export interface RequestPolicy {
  /** Concurrent requests per store (default 16). */
  readonly maxInFlight: number;
  /** Attempts per request, the first included (default 5). */
  readonly maxAttempts: number;
  /** Timeout of one attempt, response body included (default 30 s). */
  readonly timeoutMs: number;
  /** Backoff before retry n is random in [0, min(maxDelayMs, baseDelayMs × 2^(n−1))] (defaults 100 ms, 5 s). */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_REQUEST_POLICY: RequestPolicy = { maxInFlight: 16, maxAttempts: 5, timeoutMs: 30_000, baseDelayMs: 100, maxDelayMs: 5_000 };

/** A counting semaphore; waiters are served first come, first served. */
export class RequestGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new MaltError('CONFIG_INVALID', `S3 concurrency must be a positive integer, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active += 1;
      return;
    }
    // The releasing caller hands its slot over, so `active` stays as it is.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.active -= 1;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function backoffMs(policy: RequestPolicy, retry: number): number {
  return Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
}

/**
 * Runs `attempt` under the gate and the policy. `what` names the request in messages
 * ("GET s3://b/k"); `secrets` are scrubbed from any server text that reaches a message.
 */
export async function sendWithRetries<T>(
  gate: RequestGate,
  policy: RequestPolicy,
  what: string,
  secrets: (failure: unknown) => Promise<readonly string[]>,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  for (let n = 1; ; n++) {
    await gate.acquire();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, policy.timeoutMs);
    let failure: unknown;
    try {
      return await attempt(controller.signal);
    } catch (err) {
      failure = err;
    } finally {
      clearTimeout(timer);
      gate.release();
    }
    const f = classifyS3Error(failure, await secrets(failure), timedOut ? policy.timeoutMs : null);
    if (!f.retryable || n >= policy.maxAttempts) {
      const tries = n > 1 ? ` (gave up after ${n} attempts)` : '';
      throw new MaltError(f.code, `${what}: ${f.reason}${tries}`);
    }
    await sleep(backoffMs(policy, n));
  }
}
