/**
 * The column types malt serves, and how a value of each type is held in memory once decoded.
 * In memory (and on the HTTP wire) int64 is a decimal string so it stays exact, a timestamp is
 * integer microseconds since the epoch held as a bigint (exact over the whole served range, which a
 * JS number is not beyond ~285 years from 1970), a string_list is a string[].
 */
export const COLUMN_TYPES = ['double', 'int64', 'string', 'bool', 'timestamp', 'string_list'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export type TypedValue = number | bigint | string | boolean | readonly string[];

/** The served timestamp range, RFC 3339's: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z, in µs. */
export const MIN_TIMESTAMP_MICROS = -62_135_596_800_000_000n;
export const MAX_TIMESTAMP_MICROS = 253_402_300_799_999_999n;

export function timestampInRange(us: bigint): boolean {
  return us >= MIN_TIMESTAMP_MICROS && us <= MAX_TIMESTAMP_MICROS;
}

/** Parses an ISO-8601 / RFC 3339 instant to exact µs (fraction digits past 6 are truncated). */
export function parseTimestampMicros(text: string): bigint | null {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:[.,](\d+))?(Z|z|[+-]\d\d:?\d\d)?$/.exec(text.trim());
  if (!m) {
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? null : BigInt(ms) * 1000n;
  }
  const ms = Date.parse(`${m[1]}${m[3] ?? 'Z'}`);
  if (Number.isNaN(ms)) return null;
  const frac = BigInt((m[2] ?? '').slice(0, 6).padEnd(6, '0'));
  return BigInt(ms) * 1000n + frac;
}

export function isColumnType(value: unknown): value is ColumnType {
  return typeof value === 'string' && (COLUMN_TYPES as readonly string[]).includes(value);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Converts a config default (YAML scalar) into the in-memory typed value, or returns an error
 * message. Timestamps accept ISO-8601 strings (up to µs precision) or epoch milliseconds.
 */
export function parseDefault(type: ColumnType, raw: unknown): { value: TypedValue } | { error: string } {
  switch (type) {
    case 'double':
      return typeof raw === 'number' ? { value: raw } : { error: `expected a number, got ${describe(raw)}` };
    case 'int64': {
      if (typeof raw === 'number' && Number.isInteger(raw)) return { value: String(raw) };
      if (typeof raw === 'string' && /^-?\d+$/.test(raw)) {
        const big = BigInt(raw);
        if (big >= INT64_MIN && big <= INT64_MAX) return { value: big.toString() };
      }
      return { error: `expected an integer, got ${describe(raw)}` };
    }
    case 'string':
      return typeof raw === 'string' ? { value: raw } : { error: `expected a string, got ${describe(raw)}` };
    case 'bool':
      return typeof raw === 'boolean' ? { value: raw } : { error: `expected true or false, got ${describe(raw)}` };
    case 'timestamp': {
      let us: bigint | null = null;
      if (typeof raw === 'number' && Number.isFinite(raw)) us = BigInt(Math.trunc(raw)) * 1000n;
      else if (typeof raw === 'string') us = parseTimestampMicros(raw);
      else if (raw instanceof Date && !Number.isNaN(raw.getTime())) us = BigInt(raw.getTime()) * 1000n;
      if (us === null) return { error: `expected an ISO-8601 timestamp, got ${describe(raw)}` };
      if (!timestampInRange(us)) return { error: `timestamp ${describe(raw)} is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z` };
      return { value: us };
    }
    case 'string_list':
      return Array.isArray(raw) && raw.every((s) => typeof s === 'string')
        ? { value: Object.freeze([...raw]) }
        : { error: `expected a list of strings, got ${describe(raw)}` };
  }
}

function describe(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'a list';
  return `${typeof raw} ${JSON.stringify(raw)}`;
}
