/**
 * The column types malt serves, and how a value of each type is held in memory once decoded.
 * In memory (and on the HTTP wire) int64 is a decimal string so it stays exact, a timestamp is
 * integer microseconds since the epoch, a string_list is a string[].
 */
export const COLUMN_TYPES = ['double', 'int64', 'string', 'bool', 'timestamp', 'string_list'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export type TypedValue = number | string | boolean | readonly string[];

export function isColumnType(value: unknown): value is ColumnType {
  return typeof value === 'string' && (COLUMN_TYPES as readonly string[]).includes(value);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Converts a config default (YAML scalar) into the in-memory typed value, or returns an error
 * message. Timestamps accept ISO-8601 strings or epoch milliseconds.
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
      if (typeof raw === 'number' && Number.isFinite(raw)) return { value: Math.trunc(raw) * 1000 };
      const ms = typeof raw === 'string' ? Date.parse(raw) : raw instanceof Date ? raw.getTime() : NaN;
      return Number.isNaN(ms) ? { error: `expected an ISO-8601 timestamp, got ${describe(raw)}` } : { value: ms * 1000 };
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
