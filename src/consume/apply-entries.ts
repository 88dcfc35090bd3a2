/**
 * Applies the parsed entries of one stream read through the write path, which is all-or-nothing
 * per call: when it refuses a batch because of some items, those become dead letters (with the
 * write path's per-item code and message) and the rest is applied again. A batch larger than the
 * write path accepts (BATCH_TOO_LARGE) is split in halves. Re-applying entries that were already
 * applied is harmless: last-write-wins by event time makes it idempotent.
 */
import { MaltError } from '../errors.js';
import { UpdateRejected, type ItemError, type UpdateItem, type UpdateWritePath } from '../updates/write-path.js';
import type { DeadLetter } from './dead-letter.js';
import type { ParsedEntry } from './stream-entry.js';

export interface AppliedEntries {
  /** Ids of the entries now applied (to acknowledge). */
  readonly appliedIds: string[];
  /** Entries that cannot be applied, with the reason (to dead-letter and acknowledge). */
  readonly dead: DeadLetter[];
}

/** Applies `items`, splitting on BATCH_TOO_LARGE; rejections carry indexes into `items`. */
async function applyAll(writePath: UpdateWritePath, dataset: string, items: readonly UpdateItem[]): Promise<void> {
  try {
    await writePath.apply(dataset, items);
  } catch (err) {
    if (!(err instanceof MaltError && !(err instanceof UpdateRejected) && err.code === 'BATCH_TOO_LARGE' && items.length > 1)) throw err;
    const mid = Math.ceil(items.length / 2);
    const rejected: ItemError[] = [];
    for (const [offset, part] of [[0, items.slice(0, mid)], [mid, items.slice(mid)]] as const) {
      try {
        await applyAll(writePath, dataset, part);
      } catch (e) {
        if (!(e instanceof UpdateRejected)) throw e;
        rejected.push(...e.items.map((i) => ({ ...i, index: i.index + offset })));
      }
    }
    if (rejected.length > 0) throw new UpdateRejected(rejected);
  }
}

/**
 * Applies every well-formed entry; malformed ones and the ones the write path refuses come back
 * as dead letters. Any other error (Redis unreachable, …) is thrown: nothing is acknowledged and
 * the entries are read again.
 */
export async function applyEntries(writePath: UpdateWritePath, dataset: string, entries: readonly ParsedEntry[]): Promise<AppliedEntries> {
  const dead: DeadLetter[] = [];
  let good: Extract<ParsedEntry, { ok: true }>[] = [];
  for (const e of entries) {
    if (e.ok) good.push(e);
    else dead.push({ id: e.id, code: e.code, message: e.message, fields: e.fields });
  }
  // Each round either applies everything left or removes at least one refused entry.
  while (good.length > 0) {
    try {
      await applyAll(writePath, dataset, good.map((e) => e.item));
      break;
    } catch (err) {
      if (!(err instanceof UpdateRejected) || err.items.length === 0) throw err;
      const byIndex = new Map(err.items.map((i) => [i.index, i]));
      const kept: typeof good = [];
      good.forEach((e, i) => {
        const why = byIndex.get(i);
        if (why) dead.push({ id: e.id, code: why.code, message: why.message, fields: e.fields });
        else kept.push(e);
      });
      if (kept.length === good.length) throw err; // indexes that match nothing: do not loop
      good = kept;
    }
  }
  // Dead letters keep the source stream's order.
  dead.sort((a, b) => compareStreamIds(a.id, b.id));
  return { appliedIds: good.map((e) => e.id), dead };
}

/** Orders stream ids `<ms>-<seq>` numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? (as === bs ? 0 : as < bs ? -1 : 1) : am < bm ? -1 : 1;
}
