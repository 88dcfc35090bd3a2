/**
 * Delta table types → malt column types, exactly (see docs/configuration.md "Sources"):
 * byte/short/integer/long → int64; float/double → double; boolean → bool; string → string;
 * date → timestamp (midnight UTC); timestamp → timestamp (µs); timestamp_ntz → timestamp (the
 * wall-clock value read as if UTC); decimal(p,s) → string (canonical text, exact), or double when
 * declared so and p <= 15; array<string> → string_list. binary, struct, map, arrays of anything but
 * strings, variant and unknown types have no malt type: refused when selected.
 */
import type { ColumnType } from '../column-types.js';
import type { SourceColumn } from '../sources/source.js';
import { type DecimalType, parseDecimalType } from './decimal.js';

/** Largest decimal precision whose values all round-trip through a double's 15 significant digits. */
export const MAX_DOUBLE_DECIMAL_PRECISION = 15;

export interface DeltaTypeInfo {
  /** The malt type the Delta type is served as by default; null when it has none. */
  readonly type: ColumnType | null;
  /** The Delta type as written in messages: "long", "decimal(12,5)", "array<integer>", "struct". */
  readonly description: string;
  readonly integer: boolean;
  readonly decimal: DecimalType | null;
  /** The primitive type name (for parsePartitionValue); null for nested types. */
  readonly primitive: string | null;
}

const PRIMITIVES: Record<string, ColumnType> = {
  byte: 'int64', short: 'int64', integer: 'int64', int: 'int64', long: 'int64',
  float: 'double', double: 'double', boolean: 'bool', string: 'string',
  date: 'timestamp', timestamp: 'timestamp', timestamp_ntz: 'timestamp',
};
const INTEGERS = new Set(['byte', 'short', 'integer', 'int', 'long']);

function describeNested(t: Readonly<Record<string, unknown>>): string {
  const kind = String(t['type']);
  const inner = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'object' && v !== null ? describeNested(v as Record<string, unknown>) : '?');
  if (kind === 'array') return `array<${inner(t['elementType'])}>`;
  if (kind === 'map') return `map<${inner(t['keyType'])},${inner(t['valueType'])}>`;
  return kind;
}

export function deltaTypeInfo(column: SourceColumn): DeltaTypeInfo {
  const t = column.type;
  if (typeof t === 'string') {
    const name = t.trim().toLowerCase();
    const decimal = name === 'decimal' ? { precision: 10, scale: 0 } : parseDecimalType(name);
    if (decimal) return { type: 'string', description: `decimal(${decimal.precision},${decimal.scale})`, integer: false, decimal, primitive: name };
    const type = PRIMITIVES[name] ?? null;
    return { type, description: name, integer: INTEGERS.has(name), decimal: null, primitive: type === null ? null : name };
  }
  const description = describeNested(t);
  const type: ColumnType | null = t['type'] === 'array' && t['elementType'] === 'string' ? 'string_list' : null;
  return { type, description, integer: false, decimal: null, primitive: null };
}

/** Whether a column of this Delta type may be served as `declared`; else why not. */
export function deltaTypeServableAs(info: DeltaTypeInfo, declared: ColumnType): true | string {
  if (info.type === null) return `${info.description} columns cannot be served (no malt type)`;
  if (info.decimal) {
    if (declared === 'string') return true;
    if (declared === 'double') {
      return info.decimal.precision <= MAX_DOUBLE_DECIMAL_PRECISION ? true
        : `${info.description} has more than ${MAX_DOUBLE_DECIMAL_PRECISION} digits, which a double cannot hold exactly; declare it as string (exact canonical text)`;
    }
    return `${info.description} can be served as string (exact) or, up to precision ${MAX_DOUBLE_DECIMAL_PRECISION}, as double`;
  }
  if (declared === info.type) return true;
  if (declared === 'double' && info.type === 'int64') return true;
  return `${info.description} cannot be converted to ${declared}`;
}
