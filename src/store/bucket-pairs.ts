/**
 * A loader worker's output (loaders/row-group-worker.ts): one row group's entity values framed as
 * HSET pairs per bucket, in row order, handed over as one buffer and an index of (bucket, bytes,
 * pairs) that SnapshotWriter.addFramedPairs() takes back in. It is a RowSink
 * (loaders/row-group-writer.ts) that never asks for a flush. Lives in store/ with the other
 * code that maps ids to buckets (keys.ts bucketOf; test/store-seam.test.ts).
 */
import { bucketOf } from '../keys.js';
import { HsetPairs } from './hset-pairs.js';

/** One row group's framed pairs, per bucket. */
export class BucketPairs {
  private readonly pending: (HsetPairs | undefined)[];
  private readonly touched: number[] = [];

  constructor(private readonly buckets: number) {
    this.pending = new Array(buckets);
  }

  /** Buffers one row (`length` bytes of `value`, copied) in its entity's bucket; never asks for a flush (returns false). */
  addValue(id: string, value: Buffer, length: number): boolean {
    const b = bucketOf(id, this.buckets);
    let pairs = this.pending[b];
    if (pairs === undefined) {
      this.pending[b] = pairs = new HsetPairs(256);
      this.touched.push(b);
    }
    pairs.add(id, value, length);
    return false;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Every bucket's pairs in one buffer and the index (bucket, bytes, pairs) of its parts. */
  take(): { bytes: ArrayBuffer; index: ArrayBuffer } {
    let total = 0;
    for (const b of this.touched) total += (this.pending[b] as HsetPairs).pos;
    const bytes = new Uint8Array(total);
    const index = new Int32Array(this.touched.length * 3);
    let pos = 0;
    for (let i = 0; i < this.touched.length; i++) {
      const b = this.touched[i] as number;
      const pairs = this.pending[b] as HsetPairs;
      bytes.set(pairs.buf.subarray(0, pairs.pos), pos);
      pos += pairs.pos;
      index[i * 3] = b;
      index[i * 3 + 1] = pairs.pos;
      index[i * 3 + 2] = pairs.pairs;
    }
    return { bytes: bytes.buffer, index: index.buffer };
  }
}
