/**
 * A snapshot version's manifest (the P:{D}:v:V hash, see keys.ts): its fields as TypeScript and
 * the one parser from the stored strings. No I/O.
 */
import type { ColumnSpec, DatasetKind } from './types.js';

export type VersionState = 'loading' | 'published' | 'failed' | 'reclaiming';

/** Where a version's rows came from: 'parquet' (files) or 'delta' (a Delta table). */
export type SourceFormat = 'parquet' | 'delta';

/**
 * One quality gate a load did not pass (src/loaders/quality-gates.ts). `check` is the config key
 * it enforces (`min_rows`, `max_rejected_fraction`, `max_row_drop_fraction`, `max_null_fraction`)
 * or `schema` (a served column disappeared or changed type); `column` names the column for the
 * per-column gates. `actual` and `limit` are numbers, except for `schema`, where they are the new
 * and the served column type ('missing' when the column is gone).
 */
export interface CheckResult {
  readonly check: string;
  readonly column: string | null;
  readonly actual: number | string;
  readonly limit: number | string;
  readonly message: string;
}

export interface VersionManifest {
  readonly id: number;
  /** Random per version: distinguishes versions with the same id across a Redis reset. */
  readonly uid: string;
  readonly state: VersionState;
  readonly kind: DatasetKind;
  readonly buckets: number;
  /** Column order of the encoded rows (features); [] for segments. */
  readonly columns: readonly ColumnSpec[];
  /** sha256 over the source snapshot id and the dataset declaration: equal ⇒ the load is skipped. */
  readonly fingerprint: string;
  /** The source snapshot: the Delta version, or a fingerprint of the Parquet file listing ('' if unknown). */
  readonly snapshotId: string;
  /** The Delta table version as a string; null for plain Parquet (and versions written before provenance). */
  readonly sourceVersion: string | null;
  /** RFC 3339: the Delta commit time, or the newest Parquet file's mtime; null when unknown. */
  readonly sourceAsOf: string | null;
  readonly sourceFormat: SourceFormat;
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
  /**
   * The quality gates this load failed ([] when all passed, or when they have not run yet). On a
   * failed version, why it was refused; on a published one, the gates that --force overrode.
   */
  readonly checks: readonly CheckResult[];
}

export interface LoadStats {
  rows: number;
  rejected: number;
  rejectedReasons: Record<string, number>;
  valueRejects?: Record<string, Record<string, number>>;
  duplicates: number;
  durationMs: number;
  /** Failed quality gates to record with the stats (default []). */
  checks?: readonly CheckResult[];
}

/** Provenance fields createVersion records (see VersionManifest). */
export interface SourceProvenance {
  readonly snapshotId: string;
  readonly sourceVersion: string | null;
  readonly sourceAsOf: string | null;
  readonly sourceFormat: SourceFormat;
}

function parseChecks(raw: string | undefined): CheckResult[] {
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? (parsed as CheckResult[]) : [];
  } catch {
    return [];
  }
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
    snapshotId: h['snapshot_id'] ?? '',
    // Stored as '' when null (a hash cannot hold a null).
    sourceVersion: h['source_version'] ? h['source_version'] : null,
    sourceAsOf: h['source_as_of'] ? h['source_as_of'] : null,
    sourceFormat: h['source_format'] === 'delta' ? 'delta' : 'parquet',
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
    checks: parseChecks(h['checks']),
  };
}

