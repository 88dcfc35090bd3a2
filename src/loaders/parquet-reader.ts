/**
 * Reads Parquet files with hyparquet through an ObjectStore (local disk or ranged S3 reads), one
 * row group at a time, so loader memory is bounded by the largest row group rather than the file.
 * Also maps Parquet schema types to malt column types.
 */
import { parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { FileMetaData, ParquetParsers, SchemaElement, SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { ColumnType } from '../column-types.js';
import { MaltError } from '../errors.js';
import type { AsyncBuffer, ObjectStore } from '../sources/object-store.js';
import type { DecimalType } from './decimal.js';

/**
 * Timestamps arrive as exact bigint microseconds since the epoch (not Date, which drops micros,
 * nor number, which is inexact far from 1970). Nanosecond timestamps (and INT96) are truncated
 * to the microsecond below (floor, also for instants before 1970). Dates are midnight UTC.
 */
const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (ms: bigint) => BigInt(ms) * 1000n,
  timestampFromMicroseconds: (us: bigint) => BigInt(us),
  timestampFromNanoseconds: (ns: bigint) => {
    const n = BigInt(ns);
    const q = n / 1000n;
    return n < 0n && q * 1000n !== n ? q - 1n : q;
  },
  dateFromDays: (days: number) => BigInt(days) * 86_400_000_000n,
} as unknown as Partial<ParquetParsers>;

/** What a Parquet column can be served as, or why it cannot. */
export interface ParquetColumnInfo {
  readonly name: string;
  /** malt type this column maps to naturally, or null when it has none (DECIMAL: double). */
  readonly type: ColumnType | null;
  /** Human description of the Parquet type, for error messages. */
  readonly parquetType: string;
  /** True for integer columns (key columns may be string or integer). */
  readonly integer: boolean;
  /** DECIMAL columns: precision and scale. Values are read as raw unscaled integers (exact). */
  readonly decimal: DecimalType | null;
  /** The Parquet field_id (Delta column mapping id mode); null when absent. */
  readonly fieldId: number | null;
}

/** One row group's rows and the index (within the file) of its first row. */
export interface RowGroupRows {
  readonly firstRow: number;
  readonly rows: Record<string, unknown>[];
}

export interface OpenParquetFile {
  /** The file's location, for messages. */
  readonly path: string;
  readonly metadata: FileMetaData;
  /** Top-level columns by their Parquet name. */
  readonly columns: ReadonlyMap<string, ParquetColumnInfo>;
  readonly numRows: number;
  /** Yields the rows of each row group as objects with the requested (Parquet-named) columns. */
  rowGroups(columns: readonly string[]): AsyncGenerator<RowGroupRows>;
  /** The rows of row group `index` (0-based, < metadata.row_groups.length), as rowGroups() yields them. */
  readRowGroup(index: number, columns: readonly string[]): Promise<RowGroupRows>;
}

function isDecimal(e: SchemaElement): boolean {
  return e.logical_type?.type === 'DECIMAL' || e.converted_type === 'DECIMAL';
}

function describeLeaf(node: SchemaTree): { type: ColumnType | null; desc: string; integer: boolean } {
  const e = node.element;
  const logical = e.logical_type?.type;
  const desc = [e.type, logical ?? e.converted_type].filter(Boolean).join('/');
  if (logical === 'TIMESTAMP' || e.converted_type === 'TIMESTAMP_MILLIS' || e.converted_type === 'TIMESTAMP_MICROS' || e.type === 'INT96' || logical === 'DATE' || e.converted_type === 'DATE') {
    return { type: 'timestamp', desc, integer: false };
  }
  if (isDecimal(e)) return { type: 'double', desc: `${desc}(${e.precision ?? '?'},${e.scale ?? 0})`, integer: false };
  switch (e.type) {
    case 'BOOLEAN': return { type: 'bool', desc, integer: false };
    case 'INT32':
    case 'INT64':
      if (logical === 'TIME' || e.converted_type === 'TIME_MILLIS' || e.converted_type === 'TIME_MICROS') return { type: null, desc, integer: false };
      return { type: 'int64', desc, integer: true };
    case 'FLOAT':
    case 'DOUBLE': return { type: 'double', desc, integer: false };
    case 'BYTE_ARRAY':
      if (logical === 'STRING' || logical === 'ENUM' || logical === 'JSON' || e.converted_type === 'UTF8' || e.converted_type === 'ENUM' || e.converted_type === 'JSON') return { type: 'string', desc, integer: false };
      return { type: null, desc: desc || 'BYTE_ARRAY (binary)', integer: false };
    default: return { type: null, desc: desc || 'unknown', integer: false };
  }
}

/** LIST<string> (3-level or legacy 2-level) → string_list; other nested types are unsupported. */
function describeColumn(node: SchemaTree): ParquetColumnInfo {
  const e = node.element;
  const name = e.name;
  const fieldId = typeof e.field_id === 'number' ? e.field_id : null;
  if (node.children.length === 0) {
    const leaf = describeLeaf(node);
    if (e.repetition_type === 'REPEATED') {
      return { name, type: leaf.type === 'string' ? 'string_list' : null, parquetType: `repeated ${leaf.desc}`, integer: false, decimal: null, fieldId };
    }
    const decimal = isDecimal(e) ? { precision: e.precision ?? 38, scale: e.scale ?? 0 } : null;
    return { name, type: leaf.type, parquetType: leaf.desc, integer: leaf.integer, decimal, fieldId };
  }
  const isList = e.converted_type === 'LIST' || e.logical_type?.type === 'LIST';
  if (isList) {
    let inner: SchemaTree | undefined = node.children[0];
    while (inner && inner.children.length > 0) inner = inner.children[0];
    const leaf = inner ? describeLeaf(inner) : null;
    const desc = `LIST<${leaf?.desc ?? '?'}>`;
    return { name, type: leaf?.type === 'string' ? 'string_list' : null, parquetType: desc, integer: false, decimal: null, fieldId };
  }
  return { name, type: null, parquetType: e.converted_type ?? e.logical_type?.type ?? 'group', integer: false, decimal: null, fieldId };
}

/**
 * Prepares the schema for reading with `utf8: false`:
 * - hyparquet turns DECIMAL into a JS double (inexact past 15 digits). Clearing the annotation on
 *   top-level decimal leaves makes it hand over the raw unscaled integer (number, bigint or
 *   big-endian bytes) instead; decimal.ts builds the exact value from it and the recorded scale.
 * - ENUM leaves are decoded as strings only through the utf8 fallback, so they are marked UTF8.
 */
function prepareForRead(schema: SchemaTree): void {
  for (const child of schema.children) {
    const e = child.element as { converted_type?: unknown; logical_type?: unknown } & SchemaElement;
    if (child.children.length === 0 && isDecimal(e)) {
      e.converted_type = undefined;
      e.logical_type = undefined;
    }
  }
  const visit = (node: SchemaTree): void => {
    const e = node.element as { converted_type?: unknown } & SchemaElement;
    if (node.children.length === 0 && e.type === 'BYTE_ARRAY' && (e.converted_type === 'ENUM' || e.logical_type?.type === 'ENUM')) e.converted_type = 'UTF8';
    node.children.forEach(visit);
  };
  visit(schema);
}

/** Opens one Parquet file of `store` (reads its footer); `size` skips a HEAD/stat when known. */
export async function openParquetFile(store: ObjectStore, location: string, size?: number): Promise<OpenParquetFile> {
  let metadata: FileMetaData;
  let file: AsyncBuffer;
  try {
    file = await store.open(location, size);
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    if (err instanceof MaltError && err.code !== 'SOURCE_UNREADABLE') throw err;
    throw new MaltError('SOURCE_UNREADABLE', `${location} is not a readable Parquet file: ${(err as Error).message}`);
  }
  const schema = parquetSchema(metadata);
  const columns = new Map<string, ParquetColumnInfo>();
  for (const child of schema.children) columns.set(child.element.name, describeColumn(child));
  prepareForRead(schema);
  // hyparquet reinterprets UINT64 as unsigned only for REQUIRED columns; nullable ones arrive as
  // signed bigints (2^64-1 as -1n). Reinterpret them here so out-of-int64 values are refused, not wrapped.
  const unsigned64 = schema.children.filter((c) => c.children.length === 0 && (c.element.converted_type === 'UINT_64'
    || (c.element.logical_type?.type === 'INTEGER' && c.element.logical_type.bitWidth === 64 && !c.element.logical_type.isSigned)))
    .map((c) => c.element.name);
  const opened = file;
  const firstRows: number[] = [];
  let n = 0;
  for (const group of metadata.row_groups) {
    firstRows.push(n);
    n += Number(group.num_rows);
  }
  const readRowGroup = async (index: number, wanted: readonly string[]): Promise<RowGroupRows> => {
    const start = firstRows[index] as number;
    const end = start + Number((metadata.row_groups[index] as { num_rows: bigint | number }).num_rows);
    let rows: Record<string, unknown>[];
    if (wanted.length === 0) {
      // Every served value comes from partition values: only the row count matters.
      rows = Array.from({ length: end - start }, () => ({}));
    } else {
      try {
        // utf8: false keeps unannotated BYTE_ARRAY (binary, raw decimals) as bytes; strings are annotated.
        rows = await parquetReadObjects({
          file: opened, metadata, columns: [...wanted], rowStart: start, rowEnd: end,
          compressors, parsers: PARSERS, utf8: false,
        });
      } catch (err) {
        throw new MaltError('SOURCE_UNREADABLE', `${location}: row group at rows ${start}–${end} could not be decoded: ${(err as Error).message}`);
      }
    }
    for (const name of unsigned64) {
      if (!wanted.includes(name)) continue;
      for (const row of rows) {
        const v = row[name];
        if (typeof v === 'bigint' && v < 0n) row[name] = BigInt.asUintN(64, v);
      }
    }
    return { firstRow: start, rows };
  };
  return {
    path: location, metadata, columns,
    numRows: Number(metadata.num_rows),
    readRowGroup,
    async *rowGroups(wanted: readonly string[]) {
      for (let i = 0; i < metadata.row_groups.length; i++) yield await readRowGroup(i, wanted);
    },
  };
}
