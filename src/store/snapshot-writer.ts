/**
 * Writes a new version's rows into its bucket hashes with pipelined batches (store/command-batch.ts),
 * keeping at most `maxInFlight` batches outstanding so loader memory stays bounded however large
 * the source. Counts new entities and duplicates (a later row for the same entity wins; HSET
 * tells us). Belongs in store/ (it writes data keys); moves there when the load path settles.
 */
import type { Redis } from 'ioredis';
import { KeyLayout, bucketOf } from '../keys.js';
import { type CommandOutcome, type DataCommand, runBatch } from './command-batch.js';
import { MaltError } from '../errors.js';

export interface WriterOptions {
  readonly batchRows: number;
  readonly maxInFlight: number;
  /** Checked before every batch: a reason to stop (lock lost, interrupted), or null. */
  readonly stopReason?: () => string | null;
}

export interface WriteTotals {
  entities: number;
  duplicates: number;
}

export class SnapshotWriter {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly totals: WriteTotals = { entities: 0, duplicates: 0 };
  private failure: Error | null = null;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    keys: KeyLayout,
    dataset: string,
    version: number,
    private readonly buckets: number,
    private readonly options: WriterOptions,
  ) {
    this.prefix = keys.bucketPrefix(dataset, version);
  }

  /** Entities (features rows, wide segment rows): [id, encoded value] pairs; HSET, last wins. */
  async writeValues(rows: readonly (readonly [string, string | Buffer])[]): Promise<void> {
    const commands: DataCommand[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [id, value] = rows[i]!;
      commands[i] = { op: 'hset', key: this.prefix + bucketOf(id, this.buckets), field: id, value };
    }
    await this.submit(commands, (results) => {
      for (const [err, added] of results) {
        if (err) throw err;
        if (added === 1) this.totals.entities++;
        else this.totals.duplicates++;
      }
    });
  }

  /** Long-shaped segments: [id, segment] pairs, grouped per bucket into one script call each. */
  async writeSegmentPairs(pairs: readonly (readonly [string, string])[]): Promise<void> {
    const perBucket = new Map<number, string[]>();
    for (const [id, segment] of pairs) {
      const b = bucketOf(id, this.buckets);
      let args = perBucket.get(b);
      if (!args) perBucket.set(b, (args = []));
      args.push(id, segment);
    }
    const commands: DataCommand[] = [];
    for (const [b, args] of perBucket) commands.push({ op: 'script', script: 'maltAddSegments', key: this.prefix + b, args });
    await this.submit(commands, (results) => {
      for (const [err, counts] of results) {
        if (err) throw err;
        const [added, dup] = counts as [number, number];
        this.totals.entities += added;
        this.totals.duplicates += dup;
      }
    });
  }

  private async submit(commands: readonly DataCommand[], onResults: (r: CommandOutcome[]) => void): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inFlight.size >= this.options.maxInFlight) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const stop = this.options.stopReason?.();
    if (stop) {
      this.failure = new MaltError('LOAD_IN_PROGRESS', stop);
      throw this.failure;
    }
    const p: Promise<void> = runBatch(this.redis, commands)
      .then(onResults)
      .catch((err: Error) => {
        this.failure ??= err;
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Waits for every batch; throws the first write error, if any. */
  async finish(): Promise<WriteTotals> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    return { ...this.totals };
  }
}
