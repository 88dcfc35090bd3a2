/**
 * How one entity's row is stored as a Redis hash value: a JSON array of values in the version's
 * column order (the order lives once in the version manifest, not per row). null = null value.
 *   double       number; NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity"
 *   int64        number when |v| <= 2^53-1, else a decimal string (exact either way)
 *   string       string
 *   bool         true / false
 *   timestamp    integer microseconds since the Unix epoch
 *   string_list  array of strings
 * Segments datasets store a JSON array of segment names.
 */
import type { ColumnType, TypedValue } from './column-types.js';
import type { ColumnSpec } from './store/snapshot-store.js';

export type StoredValue = number | string | boolean | string[] | null;

/** Encodes typed in-memory values (int64 as decimal string) into the stored JSON text. */
export function encodeRow(columns: readonly ColumnSpec[], values: readonly (TypedValue | null)[]): string {
  const out: StoredValue[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const v = values[i];
    out[i] = v === null || v === undefined ? null : toStored((columns[i] as ColumnSpec).type, v);
  }
  return JSON.stringify(out);
}

function toStored(type: ColumnType, v: TypedValue): StoredValue {
  if (type === 'int64') {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : String(v);
  }
  if (type === 'double' && typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v as StoredValue;
}

/** Decodes a stored row into typed in-memory values, aligned with `columns`. */
export function decodeRow(columns: readonly ColumnSpec[], text: string): (TypedValue | null)[] {
  const raw = JSON.parse(text) as StoredValue[];
  const out: (TypedValue | null)[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const v = raw[i];
    if (v === null || v === undefined) {
      out[i] = null;
      continue;
    }
    const type = (columns[i] as ColumnSpec).type;
    if (type === 'int64') out[i] = typeof v === 'string' ? v : String(v);
    else if (type === 'double') out[i] = typeof v === 'string' ? Number(v) : v;
    else out[i] = v;
  }
  return out;
}

export function decodeSegments(text: string): string[] {
  const list = JSON.parse(text) as unknown;
  // cjson (used by the segments loader script) encodes an empty Lua table as {}.
  return Array.isArray(list) ? (list as string[]).slice().sort() : [];
}
