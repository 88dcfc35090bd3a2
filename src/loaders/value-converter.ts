/**
 * Converts values as hyparquet returns them into malt's typed in-memory values, or says why a
 * row must be rejected. Rejections are counted by reason in the version's load report.
 */
import type { ColumnType, TypedValue } from '../column-types.js';
import { entityIdProblem } from '../entity-id.js';

export const UNCONVERTIBLE = Symbol('unconvertible');

/** The largest instant JavaScript's Date represents, in microseconds. */
export const MAX_TIMESTAMP_MICROS = 8.64e18;

/** Converts a key value (string or integer column) to the wire id, or returns a reject reason. */
export function convertKey(raw: unknown): { id: string } | { reason: string } {
  if (raw === null || raw === undefined) return { reason: 'null_key' };
  let id: string;
  if (typeof raw === 'string') id = raw;
  else if (typeof raw === 'bigint' || (typeof raw === 'number' && Number.isInteger(raw))) id = String(raw);
  else return { reason: 'unconvertible_key' };
  if (id.length === 0) return { reason: 'empty_key' };
  return entityIdProblem(id) === null ? { id } : { reason: 'invalid_key' };
}

/** Returns the typed value, null for a null, or UNCONVERTIBLE. */
export function convertValue(type: ColumnType, raw: unknown): TypedValue | null | typeof UNCONVERTIBLE {
  if (raw === null || raw === undefined) return null;
  switch (type) {
    case 'double':
      if (typeof raw === 'number') return raw;
      if (typeof raw === 'bigint') return Number(raw);
      return UNCONVERTIBLE;
    case 'int64':
      if (typeof raw === 'bigint') return raw.toString();
      if (typeof raw === 'number' && Number.isInteger(raw)) return String(raw);
      return UNCONVERTIBLE;
    case 'string':
      return typeof raw === 'string' ? raw : UNCONVERTIBLE;
    case 'bool':
      return typeof raw === 'boolean' ? raw : UNCONVERTIBLE;
    case 'timestamp': {
      // Only instants a Date can represent (±8.64e15 ms): "never" sentinels such as INT64_MAX are rejected.
      const us = typeof raw === 'number' ? Math.trunc(raw) : raw instanceof Date ? raw.getTime() * 1000 : NaN;
      return Number.isFinite(us) && Math.abs(us) <= MAX_TIMESTAMP_MICROS ? us : UNCONVERTIBLE;
    }
    case 'string_list':
      if (!Array.isArray(raw)) return UNCONVERTIBLE;
      for (const s of raw) if (typeof s !== 'string') return UNCONVERTIBLE;
      return raw as string[];
  }
}
