/**
 * Converts one row group of Parquet rows into stored values and hands them to the snapshot
 * writer in bounded batches, counting rejected rows by reason.
 */
import type { DatasetConfig } from '../config.js';
import { StringDictionaryBuilder, encodeRow } from '../row-codec.js';
import type { LoadPlan } from './source-schema.js';
import type { SnapshotWriter } from '../store/snapshot-writer.js';
import { type ConvertNotes, ValueReject, convertKey, convertValue } from './value-converter.js';

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
  const values: unknown[] = new Array(plan.columns.length);
  const notes: ConvertNotes = { nullElements: 0 };
  for (const row of rows) {
    c.rowsRead++;
    const k = convertKey(row[key]);
    if ('reason' in k) {
      reject(c, k.reason);
      continue;
    }
    let value: string | Buffer | null = null;
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
    } else {
      // One bad value never drops the row: it is stored as null (served NULL_VALUE, or DEFAULTED).
      for (let i = 0; i < plan.columns.length; i++) {
        const col = plan.columns[i]!;
        notes.nullElements = 0;
        const v = convertValue(col.type, row[col.name], notes);
        if (notes.nullElements > 0) rejectValue(c, col.name, 'null_list_element', notes.nullElements);
        if (v instanceof ValueReject) {
          rejectValue(c, col.name, v.reason);
          values[i] = null;
        } else values[i] = v;
        if (values[i] === null) c.nulls[col.name] = (c.nulls[col.name] ?? 0) + 1;
      }
      value = encodeRow(plan.columns, values as never, dict);
    }
    if (value === null) continue;
    if (typeof value !== 'string' && value.length > LISTPACK_VALUE_BYTES) c.wideRows++;
    batch.push([k.id, value]);
    if (batch.length >= batchRows) await flush();
  }
  await flush();
}
