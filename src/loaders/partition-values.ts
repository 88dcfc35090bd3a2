/**
 * Partition values (strings in the Delta log or in Hive `k=v/` folder names) as the raw values
 * the value converter takes: bigint for integers, number for doubles, µs bigint for timestamps and
 * dates, a DecimalValue for decimals. An unparseable value refuses the load (SCHEMA_MISMATCH
 * naming the column and file), never reads as null.
 */
import { type ColumnType, parseTimestampMicros } from '../column-types.js';
import { MaltError } from '../errors.js';
import { parsePartitionValue } from '../sources/delta/delta-table.js';
import { parseDecimalText } from './decimal.js';
import type { DeltaTypeInfo } from './delta-types.js';

/** Hive's spelling of a null partition value (Spark writes it for null and ""). */
export const HIVE_NULL = '__HIVE_DEFAULT_PARTITION__';

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

function bad(column: string, ctx: string, raw: string, type: string): MaltError {
  return new MaltError('SCHEMA_MISMATCH', `partition column "${column}" of ${ctx}: value ${JSON.stringify(raw)} is not a valid ${type}`);
}

/** A Delta partition value typed by the table schema (PROTOCOL.md "Partition Value Serialization"). */
export function deltaPartitionValue(column: string, info: DeltaTypeInfo, raw: string | null, ctx: string): unknown {
  if (info.primitive === null || info.primitive === 'binary') {
    throw new MaltError('SCHEMA_MISMATCH', `partition column "${column}" of ${ctx} has type ${info.description}, which cannot be served`);
  }
  const v = parsePartitionValue(info.primitive, raw, `partition column "${column}" of ${ctx}`);
  if (v === null) return null;
  if (typeof v === 'object') return v.timestampMicros;
  if (info.decimal && typeof v === 'string') {
    const d = parseDecimalText(v, info.decimal.scale);
    if (d === null) throw bad(column, ctx, v, info.description);
    return d;
  }
  return v;
}

/**
 * A Hive partition value (plain Parquet folders have no schema): typed by the column's declared
 * type, a string when undeclared. `__HIVE_DEFAULT_PARTITION__` is null.
 */
export function hivePartitionValue(column: string, type: ColumnType, raw: string | null, ctx: string): unknown {
  if (raw === null || raw === HIVE_NULL) return null;
  switch (type) {
    case 'string': return raw;
    case 'int64':
      if (!/^[+-]?\d+$/.test(raw)) throw bad(column, ctx, raw, 'integer');
      return BigInt(raw);
    case 'double': {
      const n = raw === 'NaN' ? NaN : raw === 'Infinity' ? Infinity : raw === '-Infinity' ? -Infinity : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : null;
      if (n === null) throw bad(column, ctx, raw, 'number');
      return n;
    }
    case 'bool':
      if (raw === 'true' || raw === 'false') return raw === 'true';
      throw bad(column, ctx, raw, 'boolean (true or false)');
    case 'timestamp': {
      // A date (`dt=2026-01-31`) is midnight UTC; a zone-less time is read as UTC.
      const d = DATE_ONLY.exec(raw);
      const us = d ? parseTimestampMicros(`${raw}T00:00:00Z`) : parseTimestampMicros(raw.replace(' ', 'T'));
      if (us === null) throw bad(column, ctx, raw, 'timestamp or date');
      return us;
    }
    case 'string_list':
      throw new MaltError('SCHEMA_MISMATCH', `partition column "${column}" of ${ctx} cannot be served as string_list`);
  }
}
