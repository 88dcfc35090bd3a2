/**
 * One Redis round trip for a request's cache misses (lookup.ts), which concurrent requests for
 * the same keys join (single-flight). It settles once, by the reply, the connection failing or
 * the shared deadline (deadline-queue.ts), and holds its outcome synchronously, so joiners and
 * the degraded-mode fallbacks read it without a promise per key. Requests wait by joining it
 * (FlightWaiter, called back when it settles): no promise per flight, per key, per deadline or
 * per counter.
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

/** A request waiting on flights (lookup.ts); told once per flight it joined, when that settles. */
export interface FlightWaiter {
  flightSettled(flight: ReadFlight): void;
}

export class ReadFlight implements DeadlineEntry {
  readonly slots: MissSlot[] = [];
  /** Results in slot order, once the flight succeeded. */
  results: DatasetResult[] | null = null;
  error: MaltError | null = null;
  private state = PENDING;
  /** Who waits: the first waiter in a field (usually the only one), joiners after it in an array. */
  private first: FlightWaiter | null = null;
  private more: FlightWaiter[] | null = null;
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

  /** `w` is told when the flight settles; at once when it has settled already. */
  join(w: FlightWaiter): void {
    if (this.state !== PENDING) w.flightSettled(this);
    else if (this.first === null) this.first = w;
    else (this.more ??= []).push(w);
  }

  succeed(results: DatasetResult[]): void {
    if (this.state !== PENDING) return;
    this.state = DONE;
    this.results = results;
    this.notify();
  }

  fail(err: MaltError): void {
    if (this.state !== PENDING) return;
    this.state = FAILED;
    this.error = err;
    this.notify();
  }

  expire(): void {
    this.owner.expired(this);
  }

  /** Tells every waiter; one that throws does not keep the others waiting (the first error is rethrown after). */
  private notify(): void {
    const { first, more } = this;
    this.first = null;
    this.more = null;
    let thrown: { err: unknown } | null = null;
    try {
      first?.flightSettled(this);
    } catch (err) {
      thrown = { err };
    }
    if (more !== null) {
      for (const w of more) {
        try {
          w.flightSettled(this);
        } catch (err) {
          thrown ??= { err };
        }
      }
    }
    if (thrown !== null) throw thrown.err;
  }
}
