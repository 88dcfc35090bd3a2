/**
 * Decides which columns a load serves and checks every source file against them before a single
 * row is written: a declared column that is missing, or whose Parquet type cannot be converted to
 * the declared type, refuses the load with a message naming the column, the file and both types.
 */
import type { ColumnType } from '../column-types.js';
import type { DatasetConfig } from '../config.js';
import { MaltError } from '../errors.js';
import type { ColumnSpec } from '../model/types.js';
import type { OpenParquetFile, ParquetColumnInfo } from './parquet-reader.js';

/** Which Parquet-side types each declared type accepts. */
const ACCEPTS: Record<ColumnType, readonly ColumnType[]> = {
  double: ['double', 'int64'],
  int64: ['int64'],
  string: ['string'],
  bool: ['bool'],
  timestamp: ['timestamp'],
  string_list: ['string_list'],
};

export type SegmentShape = 'long' | 'wide';

export interface LoadPlan {
  /** Served columns, in stored order (features); [] for segments. */
  readonly columns: readonly ColumnSpec[];
  /** Columns to read from Parquet (key first). */
  readonly readColumns: readonly string[];
  readonly segmentShape: SegmentShape | null;
  /** Columns present in Parquet but not servable (binary, structs, maps), when columns were inferred. */
  readonly skipped: readonly string[];
}

function need(file: OpenParquetFile, column: string, what: string): ParquetColumnInfo {
  const info = file.columns.get(column);
  if (!info) {
    const have = [...file.columns.keys()].join(', ');
    throw new MaltError('SCHEMA_MISMATCH', `${what} "${column}" is missing from ${file.path} (columns there: ${have})`);
  }
  return info;
}

function checkKey(dataset: DatasetConfig, file: OpenParquetFile): void {
  const info = need(file, dataset.key, 'key column');
  if (info.type !== 'string' && !info.integer) {
    throw new MaltError('SCHEMA_MISMATCH', `key column "${dataset.key}" in ${file.path} is ${info.parquetType}; a key must be a string or integer column`);
  }
}

export function planLoad(dataset: DatasetConfig, files: readonly OpenParquetFile[]): LoadPlan {
  const first = files[0];
  if (!first) throw new MaltError('SOURCE_NOT_FOUND', `dataset ${dataset.name} has no source files`);
  for (const f of files) checkKey(dataset, f);

  if (dataset.kind === 'segments') {
    const col = dataset.segmentColumn as string;
    let shape: SegmentShape | null = null;
    for (const f of files) {
      const info = need(f, col, 'segment column');
      const s: SegmentShape | null = info.type === 'string' ? 'long' : info.type === 'string_list' ? 'wide' : null;
      if (s === null) throw new MaltError('SCHEMA_MISMATCH', `segment column "${col}" in ${f.path} is ${info.parquetType}; expected a string (long shape) or a list of strings (wide shape)`);
      if (shape !== null && s !== shape) throw new MaltError('SCHEMA_MISMATCH', `segment column "${col}" is ${shape} in one file and ${s} in ${f.path}; all files must have one shape`);
      shape = s;
    }
    return { columns: [], readColumns: [dataset.key, col], segmentShape: shape, skipped: [] };
  }

  const skipped: string[] = [];
  let columns: ColumnSpec[];
  if (dataset.columns) {
    columns = dataset.columns.map((c) => ({ name: c.name, type: c.type }));
  } else {
    columns = [];
    for (const info of first.columns.values()) {
      if (info.name === dataset.key) continue;
      if (info.type === null) skipped.push(`${info.name} (${info.parquetType})`);
      else columns.push({ name: info.name, type: info.type });
    }
    if (columns.length === 0) throw new MaltError('SCHEMA_MISMATCH', `${first.path} has no servable columns besides the key "${dataset.key}"`);
  }
  for (const f of files) {
    for (const c of columns) {
      const info = need(f, c.name, 'column');
      if (info.type === null || !ACCEPTS[c.type].includes(info.type)) {
        throw new MaltError('SCHEMA_MISMATCH', `column "${c.name}" in ${f.path} is ${info.parquetType}, which cannot be converted to ${c.type}`);
      }
    }
  }
  return { columns, readColumns: [dataset.key, ...columns.map((c) => c.name)], segmentShape: null, skipped };
}
