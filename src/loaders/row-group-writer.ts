/**
 * Converts one row group of Parquet rows into stored values and hands them to the snapshot
 * writer in bounded batches, counting rejected rows by reason.
 */
import type { DatasetConfig } from '../config.js';
import { StringDictionaryBuilder, encodeRow } from '../row-codec.js';
import type { LoadPlan } from './source-schema.js';
import type { SnapshotWriter } from './snapshot-writer.js';
import { UNCONVERTIBLE, convertKey, convertValue } from './value-converter.js';

/** Redis keeps a hash compact (listpack) only while every value is at most this many bytes. */
export const LISTPACK_VALUE_BYTES = 64;

export interface RowCounters {
  rowsRead: number;
  rejected: number;
  reasons: Record<string, number>;
  /** Stored values larger than LISTPACK_VALUE_BYTES (their buckets cost more memory). */
  wideRows: number;
}

export function newCounters(): RowCounters {
  return { rowsRead: 0, rejected: 0, reasons: {}, wideRows: 0 };
}

function reject(c: RowCounters, reason: string): void {
  c.rejected++;
  c.reasons[reason] = (c.reasons[reason] ?? 0) + 1;
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
      const list = convertValue('string_list', row[segmentColumn]);
      if (list === UNCONVERTIBLE) reject(c, `unconvertible:${segmentColumn}`);
      else value = JSON.stringify([...new Set((list as string[] | null) ?? [])].sort());
    } else {
      let bad: string | null = null;
      for (let i = 0; i < plan.columns.length; i++) {
        const col = plan.columns[i]!;
        const v = convertValue(col.type, row[col.name]);
        if (v === UNCONVERTIBLE) {
          bad = col.name;
          break;
        }
        values[i] = v;
      }
      if (bad !== null) reject(c, `unconvertible:${bad}`);
      else value = encodeRow(plan.columns, values as never, dict);
    }
    if (value === null) continue;
    if (typeof value !== 'string' && value.length > LISTPACK_VALUE_BYTES) c.wideRows++;
    batch.push([k.id, value]);
    if (batch.length >= batchRows) await flush();
  }
  await flush();
}
