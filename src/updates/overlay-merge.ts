/**
 * What a read serves when an entity has updates: base ⊕ overlay (docs/updates.md). An overlay
 * entry counts only when its event time is after the served version's as-of time (older ones are
 * superseded by the batch); then, per column, the latest of {base row, column upsert, row delete}
 * wins, a delete winning a tie with an upsert. Pure: no I/O.
 */
import type { TypedValue } from '../column-types.js';
import type { ColumnSpec } from '../model/types.js';
import type { EntityOverlay } from '../store/overlay-store.js';

export interface MergedFeatures {
  readonly found: boolean;
  /** Per column (aligned with the version's columns): the value, or undefined = no value (null / no row). */
  readonly values: (TypedValue | null)[];
  readonly updated: boolean[];
}

/** Decodes a stored overlay value of `type`; undefined when it was written for another type. */
function decodeStored(columnType: string, storedType: string, json: string): TypedValue | null | undefined {
  if (storedType !== columnType) return undefined;
  if (json === 'null') return null;
  const v = JSON.parse(json) as unknown;
  switch (columnType) {
    case 'double': return typeof v === 'number' ? v : Number(v);
    case 'timestamp': return BigInt(v as string);
    case 'string_list': return Object.freeze([...(v as string[])]);
    default: return v as TypedValue;
  }
}

export function mergeFeatures(columns: readonly ColumnSpec[], base: readonly (TypedValue | null)[] | null, overlay: EntityOverlay, asOf: bigint): MergedFeatures {
  const deletedAt = overlay.deletedAt !== null && overlay.deletedAt > asOf ? overlay.deletedAt : null;
  const baseAlive = base !== null && deletedAt === null;
  let found = baseAlive;
  const values: (TypedValue | null)[] = new Array(columns.length);
  const updated: boolean[] = new Array(columns.length);
  for (let c = 0; c < columns.length; c++) {
    const col = columns[c]!;
    const e = overlay.columns.get(col.name);
    const decoded = e && e.at > asOf && (deletedAt === null || e.at > deletedAt) ? decodeStored(col.type, e.type, e.json) : undefined;
    if (decoded !== undefined) {
      values[c] = decoded;
      updated[c] = true;
      found = true;
    } else {
      values[c] = baseAlive ? (base[c] ?? null) : null;
      updated[c] = false;
    }
  }
  return { found, values, updated };
}

/** Segments after the overlay: a later add or remove than the version's as-of time wins. */
export function mergeSegments(base: readonly string[] | null, overlay: EntityOverlay, asOf: bigint): { found: boolean; segments: string[]; updated: boolean } {
  const set = new Set(base ?? []);
  let updated = false;
  for (const [segment, e] of overlay.segments) {
    if (e.at <= asOf) continue;
    const had = set.has(segment);
    if (e.add && !had) { set.add(segment); updated = true; }
    else if (!e.add && had) { set.delete(segment); updated = true; }
  }
  return { found: base !== null || set.size > 0, segments: [...set].sort(), updated };
}
