/**
 * The loader's row encoder: source values as hyparquet returns them → one bin1 row, without the
 * typed values in between. The common shapes (a number for a double, a bigint for an int64 or a
 * timestamp, a string, a boolean, a list of strings) are written straight into the row builder;
 * every other value goes through convertValue (value-converter.ts), so the two agree on every
 * value: same bytes, same rejects, same null-element drops. test/raw-row-encoder.test.ts holds
 * them byte for byte against convertValue + encodeRow.
 */
import type { ColumnType } from '../column-types.js';
import type { RowBuilder } from '../row-codec.js';
import { type ConvertNotes, INT64_OUT_OF_RANGE, ValueReject, convertValue } from './value-converter.js';

/** What writeRawValue stored: the value, or a null (null in the source, or rejected: the reason). */
export const STORED_VALUE = 0;
export const STORED_NULL = 1;
export type StoredOutcome = typeof STORED_VALUE | typeof STORED_NULL | ValueReject;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Writes one source value of a column of `type` into `b` (a null when it is null or rejected).
 * `notes.nullElements` counts list elements dropped for being null, as convertValue does.
 */
export function writeRawValue(b: RowBuilder, type: ColumnType, raw: unknown, notes: ConvertNotes): StoredOutcome {
  switch (type) {
    case 'double':
      if (typeof raw === 'number') {
        b.double(raw);
        return STORED_VALUE;
      }
      break;
    case 'int64':
      if (typeof raw === 'bigint') {
        if (raw < INT64_MIN || raw > INT64_MAX) {
          b.null();
          return INT64_OUT_OF_RANGE;
        }
        b.int64Big(raw);
        return STORED_VALUE;
      }
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) {
        b.int64Safe(raw);
        return STORED_VALUE;
      }
      break;
    case 'string':
      if (typeof raw === 'string') {
        b.string(raw);
        return STORED_VALUE;
      }
      break;
    case 'bool':
      if (typeof raw === 'boolean') {
        b.bool(raw);
        return STORED_VALUE;
      }
      break;
    case 'timestamp':
      if (typeof raw === 'bigint') {
        const n = Number(raw);
        // Every safe integer of µs lies inside RFC 3339's range; others take the exact path.
        if (Number.isSafeInteger(n)) {
          b.timestampSafe(n);
          return STORED_VALUE;
        }
      }
      break;
    case 'string_list':
      if (Array.isArray(raw) && allStrings(raw)) {
        b.stringList(raw as string[]);
        return STORED_VALUE;
      }
      break;
  }
  return writeConverted(b, type, raw, notes);
}

function allStrings(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'string') return false;
  return true;
}

/** The general path: convertValue, then the typed value. */
function writeConverted(b: RowBuilder, type: ColumnType, raw: unknown, notes: ConvertNotes): StoredOutcome {
  const v = convertValue(type, raw, notes);
  if (v === null) {
    b.null();
    return STORED_NULL;
  }
  if (v instanceof ValueReject) {
    b.null();
    return v;
  }
  b.value(type, v);
  return STORED_VALUE;
}
