/**
 * Reads stored rows of published versions: for each (version, entity id), the entity's encoded
 * row from its bucket hash (keys.ts), in one batch (command-batch.ts) for all of a request's
 * misses, whatever their datasets. The read path (serving/lookup.ts) decodes them. For datasets
 * that take updates, each entity's overlay (overlay-store.ts) is read in the same batch and
 * returned parsed beside the row; the read path merges them (updates/overlay-merge.ts).
 */
import type { Redis } from 'ioredis';
import { MaltError } from '../errors.js';
import { bucketOf } from '../keys.js';
import { type CommandOutcome, type DataCommand, runBatch } from './command-batch.js';
import { type EntityOverlay, parseOverlay } from './overlay-store.js';
import { redisOp } from '../telemetry/metrics.js';
import { inSpan, tracing } from '../telemetry/tracing.js';

// Latency and command counts of every read round trip (malt_redis_command_duration_seconds{op="read"}).
const READ = redisOp('read');
const READ_BATCH = { onPipeline: READ.onPipeline };
// A standalone client's batch is one round trip, timed by rowsOf() from the caller's start time
// (no promise of its own per read); a cluster's batches are timed per node by runBatch.
const UNTIMED = {};

/** Where a version's rows live: its bucket key prefix (KeyLayout.bucketPrefix) and bucket count. */
export interface VersionBuckets {
  readonly bucketPrefix: string;
  readonly buckets: number;
}

/** One row to read: entity `id` in version `v`, plus its update overlay when `overlayPrefix` is set. */
export interface RowRead {
  readonly v: VersionBuckets & { readonly overlayPrefix?: string | null };
  readonly id: string;
}

/** The stored rows of a batch of reads, and their overlays (null when no read asked for one). */
export interface RowsRead {
  readonly rows: (Buffer | null)[];
  readonly overlays: (EntityOverlay | null)[] | null;
}

/** What send() resolves to, for rowsOf(): one outcome per command of the batch. */
export type ReadOutcomes = readonly CommandOutcome[];

export class SnapshotReader {
  constructor(private readonly redis: Redis) {}

  /** The stored row of each read, in order (null = no row); read() without the overlays. */
  async rows(reads: readonly RowRead[]): Promise<(Buffer | null)[]> {
    return (await this.read(reads)).rows;
  }

  /**
   * The stored row of each read, in order (null = the version has no row for that entity), and
   * for reads of update-enabled datasets the entity's overlay, read in the same batch (one round
   * trip). Any Redis failure rejects with STORE_UNAVAILABLE. No deadline here: the caller bounds it.
   */
  async read(reads: readonly RowRead[]): Promise<RowsRead> {
    let outcomes: ReadOutcomes;
    const started = performance.now();
    try {
      outcomes = await this.send(reads);
    } catch (err) {
      throw this.failed(err);
    }
    return this.rowsOf(reads, outcomes, started);
  }

  /**
   * read() in halves without an async layer (the read path's miss, serving/lookup.ts): send()
   * the batch, then rowsOf() its outcomes with the performance.now() from just before send()
   * (the round trip's latency metric); a rejection goes through failed().
   */
  send(reads: readonly RowRead[]): Promise<ReadOutcomes> {
    const commands: DataCommand[] = new Array(reads.length);
    let overlays = false;
    for (let i = 0; i < reads.length; i++) {
      const { v, id } = reads[i] as RowRead;
      commands[i] = { op: 'hgetBuffer', key: v.bucketPrefix + bucketOf(id, v.buckets), field: id };
      if (v.overlayPrefix) overlays = true;
    }
    if (overlays) {
      for (let i = 0; i < reads.length; i++) {
        const { v, id } = reads[i] as RowRead;
        if (v.overlayPrefix) commands.push({ op: 'hgetall', key: `${v.overlayPrefix}${id}}` });
      }
    }
    try {
      return tracing.on
        ? inSpan('redis.read', { 'db.system': 'redis', 'malt.commands': commands.length }, () => runBatch(this.redis, commands, this.redis.isCluster ? READ_BATCH : UNTIMED))
        : runBatch(this.redis, commands, this.redis.isCluster ? READ_BATCH : UNTIMED);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The rows (and overlays) of send()'s outcomes; throws STORE_UNAVAILABLE when a command failed. */
  rowsOf(reads: readonly RowRead[], outcomes: ReadOutcomes, startedAt: number): RowsRead {
    if (!this.redis.isCluster) READ.onPipeline(outcomes.length, performance.now() - startedAt);
    try {
      const rows: (Buffer | null)[] = new Array(reads.length);
      let overlayed = 0;
      for (let i = 0; i < reads.length; i++) {
        const [err, row] = outcomes[i]!;
        if (err) throw err;
        rows[i] = row as Buffer | null;
        if ((reads[i] as RowRead).v.overlayPrefix) overlayed++;
      }
      if (overlayed === 0) return { rows, overlays: null };
      const overlays: (EntityOverlay | null)[] = new Array(reads.length).fill(null);
      let k = reads.length;
      for (let i = 0; i < reads.length; i++) {
        if (!(reads[i] as RowRead).v.overlayPrefix) continue;
        const [err, fields] = outcomes[k++]!;
        if (err) throw err;
        overlays[i] = parseOverlay(fields as Record<string, string>);
      }
      return { rows, overlays };
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** Counts a failed read and returns it as the STORE_UNAVAILABLE the read path answers. */
  failed(err: unknown): MaltError {
    READ.onError();
    if (err instanceof MaltError) return err;
    return new MaltError('STORE_UNAVAILABLE', `Redis read failed: ${(err as Error).message}`);
  }
}
