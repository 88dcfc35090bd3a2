/**
 * Converts one row group of Parquet rows into stored values and hands them to the snapshot
 * writer in bounded batches, counting rejected rows by reason.
 */
import type { DatasetConfig } from '../config.js';
import type { ColumnSpec } from '../model/types.js';
import { RowBuilder, type StringDictionaryBuilder } from '../row-codec.js';
import type { LoadPlan } from './source-schema.js';
import type { SnapshotWriter } from '../store/snapshot-writer.js';
import { type ConvertNotes, ValueReject, convertValue, keyIdOf } from './value-converter.js';
import { STORED_VALUE, writeRawValue } from './raw-row-encoder.js';

/** Redis keeps a hash compact (listpack) only while every value is at most this many bytes. */
export const LISTPACK_VALUE_BYTES = 64;

export interface RowCounters {
  rowsRead: number;
  rejected: number;
  reasons: Record<string, number>;
  /** Stored values larger than LISTPACK_VALUE_BYTES (their buckets cost more memory). */
  wideRows: number;
  /** Values stored as null (or list elements dropped), per column by reason: {column: {reason: count}}. */
  valueRejects: Record<string, Record<string, number>>;
  /** Values stored as null per served column (null in the source or not convertible), for checks.max_null_fraction. */
  nulls: Record<string, number>;
}

/** Where encoded features rows go: the snapshot writer, or a loader worker's per-bucket buffers (row-group-worker.ts). */
export interface RowSink {
  /** Buffers one row (`length` bytes of `value`, copied); true when the caller must await flush() before adding more. */
  addValue(id: string, value: Buffer, length: number): boolean;
  flush(): Promise<void>;
}

export function newCounters(): RowCounters {
  return { rowsRead: 0, rejected: 0, reasons: {}, wideRows: 0, valueRejects: {}, nulls: {} };
}

function reject(c: RowCounters, reason: string): void {
  c.rejected++;
  c.reasons[reason] = (c.reasons[reason] ?? 0) + 1;
}

function rejectValue(c: RowCounters, column: string, reason: string, n = 1): void {
  const col = (c.valueRejects[column] ??= {});
  col[reason] = (col[reason] ?? 0) + n;
}

export async function writeRowGroup(
  dataset: DatasetConfig, plan: LoadPlan, rows: Record<string, unknown>[], writer: SnapshotWriter,
  c: RowCounters, batchRows: number, dict: StringDictionaryBuilder,
): Promise<void> {
  if (plan.segmentShape === null) return writeFeatureRows(dataset.key, plan.columns, rows, writer, c, builderFor(dict));
  const key = dataset.key;
  const segmentColumn = dataset.segmentColumn ?? '';
  let batch: [string, string | Buffer][] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    if (plan.segmentShape === 'long') await writer.writeSegmentPairs(b as [string, string][]);
    else await writer.writeValues(b);
  };
  const notes: ConvertNotes = { nullElements: 0 };
  for (const row of rows) {
    c.rowsRead++;
    const id = keyIdOf(row[key]);
    if (id instanceof ValueReject) {
      reject(c, id.reason);
      continue;
    }
    let value: string | null = null;
    if (plan.segmentShape === 'long') {
      const seg = row[segmentColumn];
      if (typeof seg !== 'string' || seg.length === 0) reject(c, 'null_segment');
      else value = seg;
    } else if (plan.segmentShape === 'wide') {
      notes.nullElements = 0;
      const list = convertValue('string_list', row[segmentColumn], notes);
      if (notes.nullElements > 0) rejectValue(c, segmentColumn, 'null_list_element', notes.nullElements);
      if (list instanceof ValueReject) reject(c, `${list.reason}:${segmentColumn}`);
      else value = JSON.stringify([...new Set((list as string[] | null) ?? [])].sort());
    }
    if (value === null) continue;
    batch.push([id, value]);
    if (batch.length >= batchRows) await flush();
  }
  await flush();
}

/** One row builder (its scratch buffer) per load, which owns one dictionary. */
const builders = new WeakMap<StringDictionaryBuilder, RowBuilder>();

function builderFor(dict: StringDictionaryBuilder): RowBuilder {
  let b = builders.get(dict);
  if (b === undefined) builders.set(dict, (b = new RowBuilder(dict)));
  return b;
}

/**
 * Features rows: each row is encoded straight from the source values (raw-row-encoder.ts) and
 * buffered in the writer, which sends a batch when it is full. One bad value never drops the
 * row: it is stored as null (served NULL_VALUE, or DEFAULTED) and counted for its column.
 */
export async function writeFeatureRows(
  key: string, columns: readonly ColumnSpec[], rows: Record<string, unknown>[], writer: RowSink, c: RowCounters, b: RowBuilder,
): Promise<void> {
  const names = columns.map((col) => col.name);
  const types = columns.map((col) => col.type);
  const nulls = new Array<number>(columns.length).fill(0);
  const notes: ConvertNotes = { nullElements: 0 };
  try {
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as Record<string, unknown>;
      c.rowsRead++;
      const id = keyIdOf(row[key]);
      if (id instanceof ValueReject) {
        reject(c, id.reason);
        continue;
      }
      b.begin();
      for (let i = 0; i < names.length; i++) {
        notes.nullElements = 0;
        const stored = writeRawValue(b, types[i]!, row[names[i]!], notes);
        if (notes.nullElements > 0) rejectValue(c, names[i]!, 'null_list_element', notes.nullElements);
        if (stored !== STORED_VALUE) {
          nulls[i]!++;
          if (stored instanceof ValueReject) rejectValue(c, names[i]!, stored.reason);
        }
      }
      if (b.length > LISTPACK_VALUE_BYTES) c.wideRows++;
      // The writer copies the row out of the builder's scratch buffer.
      if (writer.addValue(id, b.scratch, b.length)) await writer.flush();
    }
  } finally {
    for (let i = 0; i < names.length; i++) if (nulls[i]! > 0) c.nulls[names[i]!] = (c.nulls[names[i]!] ?? 0) + nulls[i]!;
  }
}
