/**
 * Reads one source file as rows of logical columns: Parquet columns renamed to their logical names
 * (Delta column mapping), decimals made exact at the table's scale, partition values and columns
 * missing from the file (schema evolution: null) filled in, and rows deleted by a Delta deletion
 * vector skipped (a DV names rows by their position in the file, across row groups).
 */
import { normalizeTableUri } from '../sources/delta/table-path.js';
import { type DeletedRows, readDeletionVector } from '../sources/delta/deletion-vector.js';
import type { DataFile, SourceSnapshot } from '../sources/source.js';
import { DecimalValue, unscaledOf } from './decimal.js';
import type { OpenParquetFile } from './parquet-reader.js';

/** Where one logical column's values come from in one file. */
export type FieldSource =
  | {
    readonly logical: string; readonly from: 'file'; readonly parquetName: string;
    /** Decimal columns: the file's scale (0 for an integer file widened to decimal) and the served scale. */
    readonly decimal: { readonly fileScale: number; readonly targetScale: number } | null;
  }
  | { readonly logical: string; readonly from: 'constant'; readonly value: unknown };

export interface FileProjection {
  readonly file: OpenParquetFile;
  readonly dataFile: DataFile;
  /** Parquet columns to read (by their names in this file). */
  readonly parquetColumns: readonly string[];
  readonly fields: readonly FieldSource[];
}

/** A decimal that cannot be held at the served scale: the value converter rejects it per value. */
const UNREPRESENTABLE = Symbol('unrepresentable decimal');

function exactDecimal(raw: unknown, fileScale: number, targetScale: number): unknown {
  if (raw === null || raw === undefined) return null;
  const unscaled = unscaledOf(raw);
  if (unscaled === null) return UNREPRESENTABLE;
  return new DecimalValue(unscaled, fileScale).rescale(targetScale) ?? UNREPRESENTABLE;
}

/** True when rows can be handed on as hyparquet returns them (same names, no decoding, no constants). */
function isIdentity(p: FileProjection): boolean {
  return p.fields.every((f) => f.from === 'file' && f.parquetName === f.logical && f.decimal === null);
}

/** Rows deleted from this file by its deletion vector (none when it has none). */
export async function deletedRowsOf(snapshot: SourceSnapshot, dataFile: DataFile): Promise<DeletedRows | null> {
  if (dataFile.deletionVector === null) return null;
  return readDeletionVector(snapshot.store, normalizeTableUri(snapshot.uri), dataFile.deletionVector, snapshot.uri);
}

/** The file's live rows, one row group at a time, keyed by logical column name. */
export async function* projectedRows(p: FileProjection, deleted: DeletedRows | null): AsyncGenerator<Record<string, unknown>[]> {
  for await (const { firstRow, rows } of p.file.rowGroups(p.parquetColumns)) yield projectRows(p, deleted, firstRow, rows);
}

/** One row group's live rows (it starts at row `firstRow` of the file), keyed by logical column name. */
export function projectRows(p: FileProjection, deleted: DeletedRows | null, firstRow: number, rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const identity = isIdentity(p);
  if (identity && deleted === null) return rows;
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < rows.length; i++) {
    if (deleted !== null && deleted.has(firstRow + i)) continue;
    const row = rows[i]!;
    if (identity) {
      out.push(row);
      continue;
    }
    const o: Record<string, unknown> = {};
    for (const f of p.fields) {
      if (f.from === 'constant') o[f.logical] = f.value;
      else if (f.decimal !== null) o[f.logical] = exactDecimal(row[f.parquetName], f.decimal.fileScale, f.decimal.targetScale);
      else o[f.logical] = row[f.parquetName];
    }
    out.push(o);
  }
  return out;
}
