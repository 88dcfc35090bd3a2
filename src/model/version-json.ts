/**
 * The JSON shape of a dataset's versions (snake_case), shared by GET /v1/datasets/:name/versions
 * and `malt versions --json`. No I/O.
 */
import type { CheckResult, VersionManifest } from './version-manifest.js';

/** A gate result as JSON: {check, column (null for whole-table gates), actual, limit, message}. */
export function checkJson(c: CheckResult): Record<string, unknown> {
  return { check: c.check, column: c.column ?? null, actual: c.actual, limit: c.limit, message: c.message };
}

/** The source snapshot fields shown on every version: source_version (Delta; null for Parquet), source_as_of. */
export function provenanceJson(m: VersionManifest): { source_format: string; source_version: string | null; source_as_of: string | null; source_snapshot_id: string } {
  return { source_format: m.sourceFormat, source_version: m.sourceVersion, source_as_of: m.sourceAsOf, source_snapshot_id: m.snapshotId };
}

export function manifestJson(m: VersionManifest, current: number | null): Record<string, unknown> {
  return {
    version: String(m.id), state: m.state, current: m.id === current, rows: m.rows, rejected: m.rejected,
    rejected_reasons: m.rejectedReasons, value_rejects: m.valueRejects, duplicates: m.duplicates, ...provenanceJson(m),
    source_fingerprint: m.fingerprint, source_files: m.sourceFiles, source_bytes: m.sourceBytes, loaded_at: m.loadedAt, published_at: m.publishedAt,
    duration_ms: m.durationMs, ...(m.rolledBackAt ? { rolled_back_at: m.rolledBackAt } : {}), ...(m.error ? { error: m.error } : {}),
    checks: m.checks.map(checkJson),
  };
}

export function versionsJson(dataset: string, current: number | null, versions: readonly VersionManifest[]): Record<string, unknown> {
  return { dataset, current_version: current === null ? null : String(current), versions: versions.map((m) => manifestJson(m, current)) };
}
