/**
 * A snapshot version's manifest (the P:{D}:v:V hash, see keys.ts): its fields as TypeScript and
 * the one parser from the stored strings. No I/O.
 */
import type { ColumnSpec, DatasetKind } from './types.js';

export type VersionState = 'loading' | 'published' | 'failed' | 'reclaiming';


export interface VersionManifest {
  readonly id: number;
  /** Random per version: distinguishes versions with the same id across a Redis reset. */
  readonly uid: string;
  readonly state: VersionState;
  readonly kind: DatasetKind;
  readonly buckets: number;
  /** Column order of the encoded rows (features); [] for segments. */
  readonly columns: readonly ColumnSpec[];
  readonly fingerprint: string;
  readonly sourceFiles: number;
  readonly sourceBytes: number;
  readonly rows: number;
  readonly rejected: number;
  readonly rejectedReasons: Readonly<Record<string, number>>;
  /** Values stored as null or list elements dropped: {column: {reason: count}}. */
  readonly valueRejects: Readonly<Record<string, Record<string, number>>>;
  readonly duplicates: number;
  readonly loadedAt: string;
  readonly publishedAt: string | null;
  /** When this version last became the served one (publish or rollback). */
  readonly currentSince: string | null;
  /** When this version stopped being the served one (publish of another, or rollback). */
  readonly retiredAt: string | null;
  /** Set when a rollback moved away from this version: loads of the same source are skipped. */
  readonly rolledBackAt: string | null;
  readonly durationMs: number;
  readonly error: string | null;
}

export interface LoadStats {
  rows: number;
  rejected: number;
  rejectedReasons: Record<string, number>;
  valueRejects?: Record<string, Record<string, number>>;
  duplicates: number;
  durationMs: number;
}

export function parseManifest(id: number, h: Record<string, string>): VersionManifest | null {
  if (!h['state']) return null;
  return {
    id,
    uid: h['uid'] ?? '',
    state: h['state'] as VersionState,
    kind: (h['kind'] as DatasetKind) ?? 'features',
    buckets: Number(h['buckets'] ?? 1),
    columns: JSON.parse(h['columns'] ?? '[]') as ColumnSpec[],
    fingerprint: h['fingerprint'] ?? '',
    sourceFiles: Number(h['source_files'] ?? 0),
    sourceBytes: Number(h['source_bytes'] ?? 0),
    rows: Number(h['rows'] ?? 0),
    rejected: Number(h['rejected'] ?? 0),
    rejectedReasons: JSON.parse(h['rejected_reasons'] ?? '{}') as Record<string, number>,
    valueRejects: JSON.parse(h['value_rejects'] ?? '{}') as Record<string, Record<string, number>>,
    duplicates: Number(h['duplicates'] ?? 0),
    loadedAt: h['loaded_at'] ?? '',
    publishedAt: h['published_at'] ?? null,
    currentSince: h['current_since'] ?? null,
    retiredAt: h['retired_at'] ?? null,
    rolledBackAt: h['rolled_back_at'] ?? null,
    durationMs: Number(h['duration_ms'] ?? 0),
    error: h['error'] ?? null,
  };
}

