/**
 * Writes a new version's rows into its bucket hashes with pipelined batches (store/command-batch.ts),
 * keeping at most `maxInFlight` batches outstanding so loader memory stays bounded however large
 * the source. Counts new entities and duplicates (a later row for the same entity wins; HSET
 * tells us).
 *
 * Entity values are buffered per bucket and sent as one multi-field HSET per bucket per batch,
 * not one command per row: the client's cost is per command (a command object, its promise, its
 * framing), and a batch spread over all buckets otherwise puts ~1 row in each. A batch is sent
 * when it holds `flushRows` rows (at least `batchRows`; about FIELDS_PER_COMMAND per bucket, at
 * most MAX_BATCH_ROWS) or MAX_BATCH_BYTES of values, whichever comes first, so what is buffered
 * stays bounded whatever the table's size. What Redis ends up holding is the same as with one
 * HSET per row in source order: each bucket gets its fields in the same order, and a repeated id
 * in one command is counted (and wins) as it would across commands.
 */
import type { Redis } from 'ioredis';
import { KeyLayout, bucketOf } from '../keys.js';
import { type CommandOutcome, type DataCommand, runBatch } from './command-batch.js';
import { MaltError } from '../errors.js';
import { HsetPairs } from './resp-frame.js';

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

/** Fields aimed for per bucket command in a full batch (fewer when the table has many buckets). */
const FIELDS_PER_COMMAND = 16;
/** Most rows buffered before a batch is sent, whatever the bucket count. */
export const MAX_BATCH_ROWS = 65_536;
/** Most value and id bytes (about) buffered before a batch is sent. */
export const MAX_BATCH_BYTES = 8 * 2 ** 20;

export class SnapshotWriter {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly totals: WriteTotals = { entities: 0, duplicates: 0 };
  private failure: Error | null = null;
  private readonly prefix: string;
  /** Buffered field/value pairs per bucket, framed (resp-frame.ts); `touched` lists the buckets that have some. */
  private readonly pending: (HsetPairs | undefined)[];
  private touched: number[] = [];
  private pendingRows = 0;
  private pendingBytes = 0;
  /** Rows per batch (see the header). */
  readonly flushRows: number;
  /** First size of a bucket's pair buffer: what the last batch's buckets held on average (they grow as needed). */
  private firstPairsBytes = 256;

  constructor(
    private readonly redis: Redis,
    keys: KeyLayout,
    dataset: string,
    version: number,
    private readonly buckets: number,
    private readonly options: WriterOptions,
  ) {
    this.prefix = keys.bucketPrefix(dataset, version);
    this.pending = new Array(buckets);
    this.flushRows = Math.max(options.batchRows, Math.min(buckets * FIELDS_PER_COMMAND, MAX_BATCH_ROWS));
  }

  /**
   * Buffers one entity's value (HSET in its bucket; a later value for the same id wins): its
   * bytes are copied, so `value` may be reused once this returns; `length` bytes of a Buffer
   * (default all). Returns true when the batch is full: the caller awaits flush() before adding more.
   */
  addValue(id: string, value: string | Buffer, length?: number): boolean {
    const b = bucketOf(id, this.buckets);
    let pairs = this.pending[b];
    if (pairs === undefined) {
      this.pending[b] = pairs = new HsetPairs(this.firstPairsBytes);
      this.touched.push(b);
    }
    const before = pairs.pos;
    pairs.add(id, value, length);
    this.pendingBytes += pairs.pos - before;
    return ++this.pendingRows >= this.flushRows || this.pendingBytes >= MAX_BATCH_BYTES;
  }

  /**
   * Buffers `pairs` entity values of bucket `bucket` already framed as HSET pairs (a loader
   * worker's output, loaders/parallel-rows.ts): `bytes[start, end)` is copied, as addValue's
   * values are. Returns true when the batch is full, as addValue does.
   */
  addFramedPairs(bucket: number, bytes: Uint8Array, start: number, end: number, pairs: number): boolean {
    let buffered = this.pending[bucket];
    if (buffered === undefined) {
      this.pending[bucket] = buffered = new HsetPairs(Math.max(this.firstPairsBytes, end - start));
      this.touched.push(bucket);
    }
    buffered.append(bytes, start, end, pairs);
    this.pendingBytes += end - start;
    this.pendingRows += pairs;
    return this.pendingRows >= this.flushRows || this.pendingBytes >= MAX_BATCH_BYTES;
  }

  /** Sends the buffered values as one batch (waiting while `maxInFlight` batches are out). */
  async flush(): Promise<void> {
    if (this.pendingRows === 0) return;
    const commands: { op: 'hsetPairs'; key: string; pairs: HsetPairs }[] = new Array(this.touched.length);
    for (let i = 0; i < this.touched.length; i++) {
      const b = this.touched[i] as number;
      commands[i] = { op: 'hsetPairs', key: this.prefix + b, pairs: this.pending[b] as HsetPairs };
      this.pending[b] = undefined;
    }
    const perBucket = this.pendingBytes / this.touched.length;
    this.firstPairsBytes = Math.min(4096, Math.max(64, Math.ceil(perBucket * 1.25)));
    this.touched = [];
    this.pendingRows = 0;
    this.pendingBytes = 0;
    await this.submit(commands, (results) => {
      for (let i = 0; i < results.length; i++) {
        const [err, added] = results[i] as CommandOutcome;
        if (err) throw err;
        this.totals.entities += added as number;
        this.totals.duplicates += (commands[i] as { pairs: HsetPairs }).pairs.pairs - (added as number);
      }
    });
  }

  /** Entities (features rows, wide segment rows): [id, encoded value] pairs; HSET, last wins. */
  async writeValues(rows: readonly (readonly [string, string | Buffer])[]): Promise<void> {
    for (let i = 0; i < rows.length; i++) {
      const [id, value] = rows[i]!;
      if (this.addValue(id, value)) await this.flush();
    }
    await this.flush();
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
    // A batch is tens of thousands of rows encoded without a pause: let timers (the lock renewal,
    // progress) and socket events run before each one, even when no batch has to be waited for.
    await new Promise<void>((resolve) => setImmediate(resolve));
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

  /** Sends what is still buffered, waits for every batch; throws the first write error, if any. */
  async finish(): Promise<WriteTotals> {
    await this.flush();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    return { ...this.totals };
  }
}
