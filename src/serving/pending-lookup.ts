/**
 * A lookup waiting on the Redis reads its cells need (lookup.ts): it joins each flight
 * (read-flight.ts) and answers once, at the first failure (through the datasets' fallbacks,
 * degraded-results.ts) or when all succeeded, or when the caller's own shorter deadline passes.
 */
import { MaltError } from '../errors.js';
import type { DatasetResult } from './dataset-result.js';
import type { DegradedReads } from './degraded-results.js';
import { type FlightWaiter, MissSlot, type ReadFlight } from './read-flight.js';
import type { ServedVersion } from './version-tracker.js';

export interface EntityResult {
  readonly entityId: string;
  readonly datasets: readonly DatasetResult[];
}

export type LookupDone = (err: unknown, results: EntityResult[] | null) => void;

/** One request waiting on the flights its cells need (FlightWaiter): done once, at the first failure or when all succeeded. */
export class PendingLookup implements FlightWaiter {
  private remaining = 0;
  private finished = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly degraded: DegradedReads,
    private readonly entityIds: readonly string[],
    private readonly versions: readonly ServedVersion[],
    private readonly cells: (DatasetResult | MissSlot)[],
    private readonly done: LookupDone,
  ) {}

  /** Joins `flights`; `timeoutMs` > 0: gives up waiting after it (the fallbacks then answer). */
  wait(flights: readonly ReadFlight[], timeoutMs: number): void {
    this.remaining = flights.length;
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => this.finish(new MaltError('STORE_UNAVAILABLE', `Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    }
    for (const f of flights) f.join(this);
  }

  flightSettled(flight: ReadFlight): void {
    if (this.finished) return;
    if (flight.failed) this.finish(flight.error);
    else if (--this.remaining === 0) this.finish(null);
  }

  private finish(err: MaltError | null): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    let results: EntityResult[];
    try {
      // Redis down, slow or the breaker open: the datasets' fallbacks, else STORE_UNAVAILABLE.
      const resolved = err === null ? settledCells(this.cells) : this.degraded.recover(cellOutcomes(this.cells), this.versions, err);
      results = entityResults(this.entityIds, this.versions.length, resolved);
    } catch (e) {
      this.done(e, null);
      return;
    }
    this.done(null, results);
  }
}

/** Groups request-ordered cells (entity × version) into one EntityResult per entity. */
export function entityResults(entityIds: readonly string[], n: number, resolved: readonly DatasetResult[]): EntityResult[] {
  const out: EntityResult[] = new Array(entityIds.length);
  for (let e = 0; e < entityIds.length; e++) {
    out[e] = { entityId: entityIds[e] as string, datasets: n === 1 && resolved.length === 1 ? resolved : resolved.slice(e * n, (e + 1) * n) };
  }
  return out;
}

/** The cells' results once every flight they wait on succeeded. */
function settledCells(cells: (DatasetResult | MissSlot)[]): DatasetResult[] {
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    if (c instanceof MissSlot) cells[i] = c.result as DatasetResult;
  }
  return cells as DatasetResult[];
}

/** Each cell's outcome now, for the fallbacks: its result, its flight's error, or null (still waiting). */
function cellOutcomes(cells: readonly (DatasetResult | MissSlot)[]): (DatasetResult | MaltError | null)[] {
  return cells.map((c) => {
    if (!(c instanceof MissSlot)) return c;
    if (c.flight.pending) return null;
    return c.flight.failed ? (c.flight.error as MaltError) : (c.result as DatasetResult);
  });
}

