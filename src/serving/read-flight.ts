/**
 * One Redis round trip for a request's cache misses (lookup.ts), which concurrent requests for
 * the same keys join (single-flight). It settles once, by the reply, the connection failing or
 * the shared deadline (deadline-queue.ts), and holds its outcome synchronously, so joiners and
 * the degraded-mode fallbacks read it without a promise per key: a miss costs one promise per
 * flight (made only when someone waits) instead of a chain per key, per deadline and per counter.
 */
import type { MaltError } from '../errors.js';
import type { InFlightRead } from '../cache/result-cache.js';
import type { DatasetResult } from './dataset-result.js';
import type { DeadlineEntry } from './deadline-queue.js';
import type { ServedVersion } from './version-tracker.js';

/** One key of a flight: in the request's cells, and in the cache's in-flight map for joiners. */
export class MissSlot implements InFlightRead {
  constructor(
    readonly flight: ReadFlight,
    /** Position in the flight's reads and results. */
    readonly index: number,
    readonly key: string,
    readonly v: ServedVersion,
    readonly id: string,
    /** The cache ticket (update-enabled datasets), 0 without. */
    readonly ticket: number,
  ) {}

  /** The result once the flight succeeded (undefined before, or when it failed). */
  get result(): DatasetResult | undefined {
    return this.flight.results?.[this.index];
  }
}

const PENDING = 0, DONE = 1, FAILED = 2;

export class ReadFlight implements DeadlineEntry {
  readonly slots: MissSlot[] = [];
  /** Results in slot order, once the flight succeeded. */
  results: DatasetResult[] | null = null;
  error: MaltError | null = null;
  private state = PENDING;
  private waiting: Promise<void> | null = null;
  private resolveWait: (() => void) | null = null;
  private rejectWait: ((err: MaltError) => void) | null = null;
  /** performance.now() when the batch was sent (the read latency metric). */
  sentAt = 0;
  deadlineAt = 0;
  prevDeadline: DeadlineEntry | null = null;
  nextDeadline: DeadlineEntry | null = null;

  /** `owner.expired(this)` is called when the shared deadline passes first (lookup.ts fails the flight). */
  constructor(private readonly owner: { expired(f: ReadFlight): void }) {}

  get pending(): boolean {
    return this.state === PENDING;
  }

  get failed(): boolean {
    return this.state === FAILED;
  }

  add(key: string, v: ServedVersion, id: string, ticket: number): MissSlot {
    const slot = new MissSlot(this, this.slots.length, key, v, id, ticket);
    this.slots.push(slot);
    return slot;
  }

  /** Resolves when the flight succeeds, rejects with its error; one promise however many wait. */
  wait(): Promise<void> {
    if (this.state === DONE) return Promise.resolve();
    if (this.state === FAILED) return Promise.reject(this.error);
    return (this.waiting ??= new Promise<void>((resolve, reject) => {
      this.resolveWait = resolve;
      this.rejectWait = reject;
    }));
  }

  succeed(results: DatasetResult[]): void {
    if (this.state !== PENDING) return;
    this.state = DONE;
    this.results = results;
    this.resolveWait?.();
    this.release();
  }

  fail(err: MaltError): void {
    if (this.state !== PENDING) return;
    this.state = FAILED;
    this.error = err;
    this.rejectWait?.(err);
    this.release();
  }

  expire(): void {
    this.owner.expired(this);
  }

  private release(): void {
    this.resolveWait = null;
    this.rejectWait = null;
  }
}
