/**
 * The messages between a parallel load's main thread (parallel-rows.ts) and its worker threads
 * (row-group-worker.ts). One task is one row group of one file; a worker answers it with the
 * row group's entity values already encoded (bin1) and framed as HSET pairs, per bucket, in one
 * transferred ArrayBuffer, plus the task's counters.
 *
 * Dictionary ids (row-codec.ts) are assigned first-seen over the whole load, so a worker cannot
 * pick them alone. Per task, a worker that does not know the dictionary to be full first sends
 * the short strings of its rows that it has no id for (first-seen order); the main thread merges
 * those lists strictly in task order into the one StringDictionaryBuilder, and answers with the
 * entries the worker has not seen yet. The worker then encodes with the dictionary exactly as it
 * stood after that row group in a one-thread load, so every row's bytes are the same.
 */
import type { ColumnSpec } from '../model/types.js';
import type { DataFile } from '../sources/source.js';
import type { MaltConfig } from '../config.js';
import { DecimalValue } from './decimal.js';
import type { FieldSource } from './file-projection.js';
import type { RowCounters } from './row-group-writer.js';

/** What every worker of one load is started with (workerData). */
export interface WorkerSetup {
  readonly key: string;
  readonly columns: readonly ColumnSpec[];
  readonly buckets: number;
  /** The snapshot's store scheme and table URI (deletion vectors are read relative to it). */
  readonly scheme: 'file' | 's3';
  readonly uri: string;
  readonly s3: MaltConfig['s3'];
}

/** A FieldSource that survives structured cloning (a constant DecimalValue loses its class). */
export type WireField =
  | Exclude<FieldSource, { from: 'constant' }>
  | { readonly logical: string; readonly from: 'constant'; readonly value: unknown; readonly decimal?: readonly [bigint, number] };

export interface RowGroupTask {
  readonly type: 'task';
  readonly task: number;
  readonly dataFile: DataFile;
  readonly parquetColumns: readonly string[];
  readonly fields: readonly WireField[];
  readonly rowGroup: number;
}

/** Main → worker: dictionary entries the worker has not seen yet, after merging task `task`. */
export interface DictionaryUpdate {
  readonly type: 'dict';
  readonly task: number;
  readonly entries: readonly string[];
  /** The dictionary is full: no later string gets an id, so the worker need not ask again. */
  readonly full: boolean;
}

export type ToWorker = RowGroupTask | DictionaryUpdate;

/** Worker → main. */
export type FromWorker =
  | { readonly type: 'strings'; readonly task: number; readonly strings: readonly string[] }
  | {
    readonly type: 'done'; readonly task: number;
    /** Framed HSET pairs, bucket after bucket, in the order of `index`. */
    readonly bytes: ArrayBuffer;
    /** Per bucket with rows: bucket, byte length, pairs (Int32Array's buffer). */
    readonly index: ArrayBuffer;
    readonly counters: RowCounters;
  }
  | { readonly type: 'error'; readonly task: number; readonly code: string; readonly message: string };

export function toWireFields(fields: readonly FieldSource[]): WireField[] {
  return fields.map((f) => (f.from === 'constant' && f.value instanceof DecimalValue
    ? { logical: f.logical, from: 'constant', value: null, decimal: [f.value.unscaled, f.value.scale] as const }
    : f));
}

export function fromWireFields(fields: readonly WireField[]): FieldSource[] {
  return fields.map((f) => (f.from === 'constant' && 'decimal' in f && f.decimal !== undefined
    ? { logical: f.logical, from: 'constant', value: new DecimalValue(f.decimal[0], f.decimal[1]) }
    : f as FieldSource));
}
