/**
 * Reads Parquet files with hyparquet, one row group at a time, so loader memory is bounded by
 * the largest row group rather than the file. Also maps Parquet schema types to malt column types.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { FileMetaData, ParquetParsers, SchemaTree } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { ColumnType } from '../column-types.js';
import { MaltError } from '../errors.js';

/**
 * Timestamps arrive as exact bigint microseconds since the epoch (not Date, which drops micros,
 * nor number, which is inexact far from 1970). Nanosecond timestamps (and INT96) are truncated
 * to the microsecond below (floor, also for instants before 1970).
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
  /** malt type this column maps to naturally, or null when it has none. */
  readonly type: ColumnType | null;
  /** Human description of the Parquet type, for error messages. */
  readonly parquetType: string;
  /** True for integer columns (key columns may be string or integer). */
  readonly integer: boolean;
}

export interface OpenParquetFile {
  readonly path: string;
  readonly metadata: FileMetaData;
  readonly columns: ReadonlyMap<string, ParquetColumnInfo>;
  readonly numRows: number;
  /** Yields the rows of each row group as objects with the requested columns. */
  rowGroups(columns: readonly string[]): AsyncGenerator<Record<string, unknown>[]>;
}

function describeLeaf(node: SchemaTree): { type: ColumnType | null; desc: string; integer: boolean } {
  const e = node.element;
  const logical = e.logical_type?.type;
  const desc = [e.type, logical ?? e.converted_type].filter(Boolean).join('/');
  if (logical === 'TIMESTAMP' || e.converted_type === 'TIMESTAMP_MILLIS' || e.converted_type === 'TIMESTAMP_MICROS' || e.type === 'INT96' || logical === 'DATE' || e.converted_type === 'DATE') {
    return { type: 'timestamp', desc, integer: false };
  }
  if (logical === 'DECIMAL' || e.converted_type === 'DECIMAL') return { type: 'double', desc, integer: false };
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
  if (node.children.length === 0) {
    if (e.repetition_type === 'REPEATED') {
      const leaf = describeLeaf(node);
      return { name, type: leaf.type === 'string' ? 'string_list' : null, parquetType: `repeated ${leaf.desc}`, integer: false };
    }
    const leaf = describeLeaf(node);
    return { name, type: leaf.type, parquetType: leaf.desc, integer: leaf.integer };
  }
  const isList = e.converted_type === 'LIST' || e.logical_type?.type === 'LIST';
  if (isList) {
    let inner: SchemaTree | undefined = node.children[0];
    while (inner && inner.children.length > 0) inner = inner.children[0];
    const leaf = inner ? describeLeaf(inner) : null;
    const desc = `LIST<${leaf?.desc ?? '?'}>`;
    return { name, type: leaf?.type === 'string' ? 'string_list' : null, parquetType: desc, integer: false };
  }
  return { name, type: null, parquetType: e.converted_type ?? e.logical_type?.type ?? 'group', integer: false };
}

export async function openParquetFile(path: string): Promise<OpenParquetFile> {
  let metadata: FileMetaData;
  let file: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  try {
    file = await asyncBufferFromFile(path);
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new MaltError('SOURCE_UNREADABLE', `${path} is not a readable Parquet file: ${(err as Error).message}`);
  }
  const schema = parquetSchema(metadata);
  const columns = new Map<string, ParquetColumnInfo>();
  for (const child of schema.children) columns.set(child.element.name, describeColumn(child));
  // hyparquet reinterprets UINT64 as unsigned only for REQUIRED columns; nullable ones arrive as
  // signed bigints (2^64-1 as -1n). Reinterpret them here so out-of-int64 values are refused, not wrapped.
  const unsigned64 = schema.children.filter((c) => c.children.length === 0 && (c.element.converted_type === 'UINT_64'
    || (c.element.logical_type?.type === 'INTEGER' && c.element.logical_type.bitWidth === 64 && !c.element.logical_type.isSigned)))
    .map((c) => c.element.name);
  const opened = file;
  return {
    path, metadata, columns,
    numRows: Number(metadata.num_rows),
    async *rowGroups(wanted: readonly string[]) {
      let start = 0;
      for (const group of metadata.row_groups) {
        const end = start + Number(group.num_rows);
        let rows: Record<string, unknown>[];
        try {
          rows = await parquetReadObjects({
            file: opened, metadata, columns: [...wanted], rowStart: start, rowEnd: end,
            compressors, parsers: PARSERS,
          });
        } catch (err) {
          throw new MaltError('SOURCE_UNREADABLE', `${path}: row group at rows ${start}–${end} could not be decoded: ${(err as Error).message}`);
        }
        start = end;
        for (const name of unsigned64) {
          if (!wanted.includes(name)) continue;
          for (const row of rows) {
            const v = row[name];
            if (typeof v === 'bigint' && v < 0n) row[name] = BigInt.asUintN(64, v);
          }
        }
        yield rows;
      }
    },
  };
}
