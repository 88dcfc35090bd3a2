/**
 * Reads stored rows of published versions: for each (version, entity id), the entity's encoded
 * row from its bucket hash (keys.ts), in one batch (command-batch.ts) for all of a request's
 * misses, whatever their datasets. The read path (serving/lookup.ts) decodes them. When an
 * update overlay exists, it is read here too, in the same batch, and merged before returning.
 */
import type { Redis } from 'ioredis';
import { MaltError } from '../errors.js';
import { bucketOf } from '../keys.js';
import { type DataCommand, runBatch } from './command-batch.js';

/** Where a version's rows live: its bucket key prefix (KeyLayout.bucketPrefix) and bucket count. */
export interface VersionBuckets {
  readonly bucketPrefix: string;
  readonly buckets: number;
}

/** One row to read: entity `id` in version `v`. */
export interface RowRead {
  readonly v: VersionBuckets;
  readonly id: string;
}

export class SnapshotReader {
  constructor(private readonly redis: Redis) {}

  /**
   * The stored row of each read, in order (null = the version has no row for that entity).
   * Any Redis failure rejects with STORE_UNAVAILABLE. No deadline here: the caller bounds it.
   */
  async rows(reads: readonly RowRead[]): Promise<(Buffer | null)[]> {
    const commands: DataCommand[] = new Array(reads.length);
    for (let i = 0; i < reads.length; i++) {
      const { v, id } = reads[i] as RowRead;
      commands[i] = { op: 'hgetBuffer', key: v.bucketPrefix + bucketOf(id, v.buckets), field: id };
    }
    try {
      const outcomes = await runBatch(this.redis, commands);
      const rows: (Buffer | null)[] = new Array(outcomes.length);
      for (let i = 0; i < outcomes.length; i++) {
        const [err, row] = outcomes[i]!;
        if (err) throw err;
        rows[i] = row as Buffer | null;
      }
      return rows;
    } catch (err) {
      if (err instanceof MaltError) throw err;
      throw new MaltError('STORE_UNAVAILABLE', `Redis read failed: ${(err as Error).message}`);
    }
  }
}
