/**
 * Converts values as hyparquet returns them into malt's typed in-memory values, or says why a
 * row (bad key) or one value must be rejected. Rejections are counted by reason in the version's
 * load report: rows by reason, values per column by reason (a rejected value is stored as null).
 * Decimals arrive as exact DecimalValues (file-projection.ts): canonical text for string columns
 * and keys, the nearest double for double columns.
 */
import { type ColumnType, type TypedValue, timestampInRange } from '../column-types.js';
import { entityIdProblem } from '../entity-id.js';
import { DecimalValue } from './decimal.js';

/** Why one value could not be served; the value is stored as null and counted per column. */
export class ValueReject {
  constructor(readonly reason: string) {}
}
export const UNCONVERTIBLE = new ValueReject('unconvertible');
export const INT64_OUT_OF_RANGE = new ValueReject('int64_out_of_range');
export const TIMESTAMP_OUT_OF_RANGE = new ValueReject('timestamp_out_of_range');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Per-value notes of one conversion: null list elements that were dropped. */
export interface ConvertNotes { nullElements: number }

/** Converts a key value (string or integer column) to the wire id, or returns a reject reason. */
export function convertKey(raw: unknown): { id: string } | { reason: string } {
  const id = keyIdOf(raw);
  return id instanceof ValueReject ? { reason: id.reason } : { id };
}

const NULL_KEY = new ValueReject('null_key');
const EMPTY_KEY = new ValueReject('empty_key');
const INVALID_KEY = new ValueReject('invalid_key');
const UNCONVERTIBLE_KEY = new ValueReject('unconvertible_key');

/** convertKey without an object per row (the loader's hot path): the id, or why the row is rejected. */
export function keyIdOf(raw: unknown): string | ValueReject {
  if (raw === null || raw === undefined) return NULL_KEY;
  let id: string;
  if (typeof raw === 'string') id = raw;
  else if (typeof raw === 'bigint' || (typeof raw === 'number' && Number.isInteger(raw))) id = String(raw);
  else if (raw instanceof DecimalValue) id = raw.toText();
  else return UNCONVERTIBLE_KEY;
  if (id.length === 0) return EMPTY_KEY;
  return entityIdProblem(id) === null ? id : INVALID_KEY;
}

/** Returns the typed value, null for a null, or a ValueReject (the reason). */
export function convertValue(type: ColumnType, raw: unknown, notes?: ConvertNotes): TypedValue | null | ValueReject {
  if (raw === null || raw === undefined) return null;
  switch (type) {
    case 'double':
      if (typeof raw === 'number') return raw;
      if (typeof raw === 'bigint') return Number(raw);
      // The nearest double to the exact decimal (exact for precision <= 15).
      if (raw instanceof DecimalValue) return Number(raw.toText());
      return UNCONVERTIBLE;
    case 'int64':
      // UINT64 columns arrive as unsigned bigints: beyond int64 they are refused, not wrapped.
      if (typeof raw === 'bigint') return raw >= INT64_MIN && raw <= INT64_MAX ? raw.toString() : INT64_OUT_OF_RANGE;
      if (typeof raw === 'number' && Number.isSafeInteger(raw)) return String(raw);
      return UNCONVERTIBLE;
    case 'string':
      if (raw instanceof DecimalValue) return raw.toText();
      return typeof raw === 'string' ? raw : UNCONVERTIBLE;
    case 'bool':
      return typeof raw === 'boolean' ? raw : UNCONVERTIBLE;
    case 'timestamp': {
      // Exact µs; only RFC 3339's range is served ("never" sentinels such as INT64_MAX are refused).
      let us: bigint;
      if (typeof raw === 'bigint') us = raw;
      else if (typeof raw === 'number' && Number.isSafeInteger(raw)) us = BigInt(raw);
      else if (raw instanceof Date && !Number.isNaN(raw.getTime())) us = BigInt(raw.getTime()) * 1000n;
      else return UNCONVERTIBLE;
      return timestampInRange(us) ? us : TIMESTAMP_OUT_OF_RANGE;
    }
    case 'string_list': {
      if (!Array.isArray(raw)) return UNCONVERTIBLE;
      let nulls = 0;
      for (const s of raw) {
        if (s === null || s === undefined) nulls++;
        else if (typeof s !== 'string') return UNCONVERTIBLE;
      }
      if (nulls === 0) return raw as string[];
      if (notes) notes.nullElements += nulls;
      return (raw as (string | null)[]).filter((s): s is string => typeof s === 'string');
    }
  }
}
