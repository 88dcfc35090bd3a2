/**
 * The circuit breaker in front of Redis reads (docs/degraded-modes.md). Closed, every read goes
 * to Redis; after `failures` consecutive failed or timed-out reads it opens and reads fail at once
 * (the dataset's fallback answers) instead of each waiting out its deadline on a dead or stalled
 * Redis. After `openMs` one read is let through as a probe (half-open): its success closes the
 * breaker, its failure opens it for another `openMs`. Any successful read, or the version tracker
 * seeing Redis answer again, closes it: recovery needs no restart.
 */
import type { Logger } from '../telemetry/logger.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker (serving.breaker_failures, default 5). */
  readonly failures: number;
  /** How long it stays open before a probe (serving.breaker_open_ms, default 1000 ms). */
  readonly openMs: number;
  /** Clock (tests); default Date.now. */
  readonly now?: () => number;
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  private readonly now: () => number;
  private readonly listeners: ((state: BreakerState, reason: string) => void)[] = [];

  constructor(private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** True while reads go to Redis normally (the hot path checks only this). */
  get closed(): boolean {
    return this.current === 'closed';
  }

  /**
   * May a read go to Redis now? Closed: yes. Open: no, until openMs have passed; then this one
   * read is the probe (half-open) and every other read is refused until it settles.
   */
  allow(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open' && this.now() - this.openedAt >= this.opts.openMs) {
      this.set('half-open', 'probing Redis with one read');
      return true;
    }
    return false;
  }

  /** A read (or a pointer poll) answered: close. */
  success(): void {
    this.consecutive = 0;
    if (this.current !== 'closed') this.set('closed', 'Redis answered');
  }

  /** A read failed or timed out: count it; a failed probe reopens at once. */
  failure(reason: string): void {
    if (this.current === 'half-open') {
      this.open(`probe failed: ${reason}`);
      return;
    }
    if (this.current === 'closed' && ++this.consecutive >= this.opts.failures) {
      this.open(`${this.consecutive} consecutive Redis reads failed or timed out (last: ${reason})`);
    }
  }

  /** Opens now, whatever the count (the connection closed, the tracker saw Redis stall). */
  trip(reason: string): void {
    if (this.current !== 'open') this.open(reason);
  }

  onChange(fn: (state: BreakerState, reason: string) => void): void {
    this.listeners.push(fn);
  }

  private open(reason: string): void {
    this.openedAt = this.now();
    this.consecutive = 0;
    this.set('open', reason);
  }

  private set(state: BreakerState, reason: string): void {
    if (state === this.current) return;
    this.current = state;
    for (const fn of this.listeners) fn(state, reason);
  }
}

/**
 * Logs the breaker's openings and closings, at most one line per `minIntervalMs` (default 30 s)
 * however often a dead Redis makes it flap between open and half-open; the half-open probes
 * themselves are not logged.
 */
export function logBreakerChanges(breaker: CircuitBreaker, logger: Logger, minIntervalMs = 30_000, now: () => number = Date.now): void {
  let lastLogged = -Infinity;
  let suppressed = 0;
  let loggedOpen = false;
  breaker.onChange((state, reason) => {
    if (state === 'half-open') return;
    const opening = state === 'open';
    // A reopen after a failed probe repeats what was already said.
    if (opening && loggedOpen) return;
    if (opening && now() - lastLogged < minIntervalMs) {
      suppressed++;
      return;
    }
    if (!opening && !loggedOpen) return;
    lastLogged = now();
    loggedOpen = opening;
    const more = suppressed > 0 ? ` (${suppressed} more openings not logged)` : '';
    suppressed = 0;
    if (opening) logger.warn(`redis circuit breaker open: ${reason}; reads fail fast and the datasets' fallback answers${more}`);
    else logger.info(`redis circuit breaker closed: ${reason}`);
  });
}
