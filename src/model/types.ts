/**
 * Shared data types (no I/O, no imports beyond other pure types), so that the codec, the store
 * and the serving modules can share them without importing each other.
 */
import type { ColumnType, TypedValue } from '../column-types.js';

export type DatasetKind = 'features' | 'segments';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
}

export type FieldStatus = 'PRESENT' | 'NULL_VALUE' | 'NOT_FOUND' | 'DEFAULTED' | 'STALE' | 'UNAVAILABLE';

/** Why a result is not a normal read of the served version (docs/degraded-modes.md); absent when it is. */
export type Degraded = 'CACHED' | 'DEFAULTS';

export interface Feature {
  readonly name: string;
  readonly type: ColumnType;
  readonly value: TypedValue | null;
  readonly status: FieldStatus;
  /** True when the value comes from a real-time update rather than the batch (docs/updates.md). */
  readonly updated?: boolean;
}
