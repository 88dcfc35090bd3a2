/**
 * Decides which columns a load serves and checks every source file against them before a single
 * row is written: a declared column that is missing, or whose type cannot be converted to the
 * declared type, refuses the load with a message naming the column, the file and both types.
 *
 * Two sources of truth: a Delta table's schema (logical names, column mapping, partition columns,
 * type widening: narrower Parquet types in older files), or, for plain Parquet, the files
 * themselves (plus Hive partition columns from the folder names). Either way the result is, per
 * file, a projection: where each served (logical) column comes from in that file.
 */
import type { ColumnType } from '../column-types.js';
import type { DatasetConfig } from '../config.js';
import { MaltError } from '../errors.js';
import type { ColumnSpec } from '../model/types.js';
import type { DataFile, SourceColumn, SourceSnapshot } from '../sources/source.js';
import { type DeltaTypeInfo, deltaTypeInfo, deltaTypeServableAs } from './delta-types.js';
import type { FieldSource, FileProjection } from './file-projection.js';
import type { OpenParquetFile, ParquetColumnInfo } from './parquet-reader.js';
import { deltaPartitionValue, hivePartitionValue } from './partition-values.js';

/** Which Parquet-side types each declared type accepts (plain Parquet). */
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
  /** Logical columns each projected row has (key first). */
  readonly readColumns: readonly string[];
  readonly segmentShape: SegmentShape | null;
  /** Columns present in the source but not servable (binary, structs, maps), when columns were inferred. */
  readonly skipped: readonly string[];
  /** Per source file (in snapshot order): where each logical column comes from. */
  readonly files: readonly FileProjection[];
}

/** A logical column to read: its name and the malt type its values are converted to. */
interface Wanted { readonly name: string; readonly type: ColumnType | 'key' }

function mismatch(message: string): MaltError {
  return new MaltError('SCHEMA_MISMATCH', message);
}

function segmentShapeOf(type: ColumnType | null): SegmentShape | null {
  return type === 'string' ? 'long' : type === 'string_list' ? 'wide' : null;
}

export function planLoad(dataset: DatasetConfig, snapshot: SourceSnapshot, files: readonly OpenParquetFile[]): LoadPlan {
  return snapshot.schema !== null ? planDelta(dataset, snapshot, snapshot.schema, files) : planParquet(dataset, snapshot, files);
}

// ---- Delta: the table schema decides -------------------------------------------------------

function planDelta(dataset: DatasetConfig, snapshot: SourceSnapshot, schema: readonly SourceColumn[], files: readonly OpenParquetFile[]): LoadPlan {
  const table = `Delta table ${snapshot.uri}`;
  const byName = new Map(schema.map((c) => [c.name, c]));
  const column = (name: string, what: string): SourceColumn => {
    const c = byName.get(name);
    if (!c) throw mismatch(`${what} "${name}" is not in the schema of ${table} (columns there: ${schema.map((s) => s.name).join(', ')})`);
    return c;
  };
  const keyInfo = deltaTypeInfo(column(dataset.key, 'key column'));
  // Decimal keys are served as their exact canonical text ("12.50"), like decimal values.
  if (!keyInfo.integer && keyInfo.type !== 'string') {
    throw mismatch(`key column "${dataset.key}" of ${table} is ${keyInfo.description}; a key must be a string, integer or decimal column`);
  }
  const wanted: Wanted[] = [{ name: dataset.key, type: 'key' }];
  let columns: ColumnSpec[] = [];
  const skipped: string[] = [];
  let segmentShape: SegmentShape | null = null;
  if (dataset.kind === 'segments') {
    const col = dataset.segmentColumn as string;
    const info = deltaTypeInfo(column(col, 'segment column'));
    segmentShape = segmentShapeOf(info.type);
    if (segmentShape === null) throw mismatch(`segment column "${col}" of ${table} is ${info.description}; expected string (long shape) or array<string> (wide shape)`);
    wanted.push({ name: col, type: info.type as ColumnType });
  } else if (dataset.columns) {
    for (const c of dataset.columns) {
      const ok = deltaTypeServableAs(deltaTypeInfo(column(c.name, 'column')), c.type);
      if (ok !== true) throw mismatch(`column "${c.name}" of ${table}: ${ok}`);
    }
    columns = dataset.columns.map((c) => ({ name: c.name, type: c.type }));
  } else {
    for (const c of schema) {
      if (c.name === dataset.key) continue;
      const info = deltaTypeInfo(c);
      if (info.type === null) skipped.push(`${c.name} (${info.description})`);
      else columns.push({ name: c.name, type: info.type });
    }
    // A table of keys only (or keys and unservable columns) serves membership: `found` says
    // whether the entity has a row.
  }
  wanted.push(...columns);
  const partitions = new Set(snapshot.partitionColumns);
  const projections = files.map((file, i) => deltaProjection(file, snapshot.files[i]!, wanted, byName, partitions));
  return { columns, readColumns: wanted.map((w) => w.name), segmentShape, skipped, files: projections };
}

/** Where each wanted column comes from in one file of a Delta table. */
function deltaProjection(file: OpenParquetFile, dataFile: DataFile, wanted: readonly Wanted[], byName: ReadonlyMap<string, SourceColumn>, partitions: ReadonlySet<string>): FileProjection {
  const fields = wanted.map((w): FieldSource => {
    const sc = byName.get(w.name)!;
    const info = deltaTypeInfo(sc);
    if (partitions.has(w.name)) {
      return { logical: w.name, from: 'constant', value: deltaPartitionValue(w.name, info, dataFile.partitionValues[w.name] ?? null, file.path) };
    }
    // Id mode matches Parquet field ids; a file written without any falls back to the physical name.
    const pq = sc.fieldId !== null && hasFieldIds(file)
      ? [...file.columns.values()].find((p) => p.fieldId === sc.fieldId)
      : file.columns.get(sc.physicalName);
    // A column added by schema evolution after this file was written reads as null.
    if (!pq) return { logical: w.name, from: 'constant', value: null };
    checkWidening(w.name, info, pq, file.path);
    const decimal = info.decimal ? { fileScale: pq.decimal?.scale ?? 0, targetScale: info.decimal.scale } : null;
    return { logical: w.name, from: 'file', parquetName: pq.name, decimal };
  });
  return { file, dataFile, fields, parquetColumns: [...new Set(fields.flatMap((f) => (f.from === 'file' ? [f.parquetName] : [])))] };
}

function hasFieldIds(file: OpenParquetFile): boolean {
  for (const c of file.columns.values()) if (c.fieldId !== null) return true;
  return false;
}

/**
 * A file's Parquet type must be the table's type or a narrower one it was widened from (Delta
 * type widening: byte/short/int → long, float → double, integers → double or decimal, a smaller
 * decimal scale, date → timestamp_ntz); values are read exactly into the wider type.
 */
function checkWidening(name: string, info: DeltaTypeInfo, pq: ParquetColumnInfo, file: string): void {
  let ok: boolean;
  if (info.decimal) ok = (pq.decimal !== null && pq.decimal.scale <= info.decimal.scale) || pq.integer;
  else if (info.type === 'int64') ok = pq.integer;
  else if (info.type === 'double') ok = pq.decimal === null && (pq.type === 'double' || pq.integer);
  else ok = info.type !== null && pq.type === info.type && pq.decimal === null;
  if (!ok) throw mismatch(`column "${name}" in ${file} is ${pq.parquetType}, which cannot be read as the table's ${info.description}`);
}

// ---- plain Parquet: the files decide ---------------------------------------------------------

function need(file: OpenParquetFile, column: string, what: string): ParquetColumnInfo {
  const info = file.columns.get(column);
  if (!info) {
    const have = [...file.columns.keys()].join(', ');
    throw mismatch(`${what} "${column}" is missing from ${file.path} (columns there: ${have})`);
  }
  return info;
}

function planParquet(dataset: DatasetConfig, snapshot: SourceSnapshot, files: readonly OpenParquetFile[]): LoadPlan {
  const first = files[0];
  if (!first) throw new MaltError('SOURCE_NOT_FOUND', `dataset ${dataset.name} has no source files`);
  const partitions = new Set(snapshot.partitionColumns);
  const declared = new Map((dataset.columns ?? []).map((c) => [c.name, c.type]));
  const fromPartition = (name: string): boolean => partitions.has(name);

  for (const f of files) {
    if (fromPartition(dataset.key)) continue;
    const info = need(f, dataset.key, 'key column');
    if (info.type !== 'string' && !info.integer) {
      throw mismatch(`key column "${dataset.key}" in ${f.path} is ${info.parquetType}; a key must be a string or integer column`);
    }
  }
  const wanted: Wanted[] = [{ name: dataset.key, type: 'key' }];
  let columns: ColumnSpec[] = [];
  const skipped: string[] = [];
  let segmentShape: SegmentShape | null = null;
  if (dataset.kind === 'segments') {
    const col = dataset.segmentColumn as string;
    for (const f of files) {
      const s = fromPartition(col) ? 'long' : segmentShapeOf(need(f, col, 'segment column').type);
      if (s === null) throw mismatch(`segment column "${col}" in ${f.path} is ${need(f, col, 'segment column').parquetType}; expected a string (long shape) or a list of strings (wide shape)`);
      if (segmentShape !== null && s !== segmentShape) throw mismatch(`segment column "${col}" is ${segmentShape} in one file and ${s} in ${f.path}; all files must have one shape`);
      segmentShape = s;
    }
    wanted.push({ name: col, type: segmentShape === 'wide' ? 'string_list' : 'string' });
  } else {
    if (dataset.columns) {
      columns = dataset.columns.map((c) => ({ name: c.name, type: c.type }));
    } else {
      for (const info of first.columns.values()) {
        if (info.name === dataset.key || fromPartition(info.name)) continue;
        if (info.type === null) skipped.push(`${info.name} (${info.parquetType})`);
        else columns.push({ name: info.name, type: info.type });
      }
      // Hive partition columns carry no type: served as strings unless declared.
      for (const p of snapshot.partitionColumns) if (p !== dataset.key) columns.push({ name: p, type: 'string' });
      if (columns.length === 0) throw mismatch(`${first.path} has no servable columns besides the key "${dataset.key}"`);
    }
    for (const f of files) {
      for (const c of columns) {
        if (fromPartition(c.name)) continue;
        const info = need(f, c.name, 'column');
        const accepted = info.type !== null && (ACCEPTS[c.type].includes(info.type) || (c.type === 'string' && info.decimal !== null));
        if (!accepted) throw mismatch(`column "${c.name}" in ${f.path} is ${info.parquetType}, which cannot be converted to ${c.type}`);
      }
    }
    wanted.push(...columns);
  }
  const projections = files.map((file, i) => hiveProjection(file, snapshot.files[i]!, wanted, partitions, declared));
  return { columns, readColumns: wanted.map((w) => w.name), segmentShape, skipped, files: projections };
}

/** Where each wanted column comes from in one plain Parquet file: the file, or its Hive folders. */
function hiveProjection(file: OpenParquetFile, dataFile: DataFile, wanted: readonly Wanted[], partitions: ReadonlySet<string>, declared: ReadonlyMap<string, ColumnType>): FileProjection {
  const fields = wanted.map((w): FieldSource => {
    if (partitions.has(w.name)) {
      const type = w.type === 'key' ? 'string' : declared.get(w.name) ?? (w.type === 'string_list' ? 'string' : w.type);
      return { logical: w.name, from: 'constant', value: hivePartitionValue(w.name, type, dataFile.partitionValues[w.name] ?? null, file.path) };
    }
    const info = file.columns.get(w.name);
    const decimal = info?.decimal ? { fileScale: info.decimal.scale, targetScale: info.decimal.scale } : null;
    return { logical: w.name, from: 'file', parquetName: w.name, decimal };
  });
  return { file, dataFile, fields, parquetColumns: fields.flatMap((f) => (f.from === 'file' ? [f.parquetName] : [])) };
}
