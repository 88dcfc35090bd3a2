/**
 * The JSON shape of a dataset's versions (snake_case), shared by GET /v1/datasets/:name/versions
 * and `malt versions --json`. No I/O.
 */
import type { VersionManifest } from '../store/snapshot-store.js';

export function manifestJson(m: VersionManifest, current: number | null): Record<string, unknown> {
  return {
    version: String(m.id), state: m.state, current: m.id === current, rows: m.rows, rejected: m.rejected,
    rejected_reasons: m.rejectedReasons, value_rejects: m.valueRejects, duplicates: m.duplicates, source_fingerprint: m.fingerprint,
    source_files: m.sourceFiles, source_bytes: m.sourceBytes, loaded_at: m.loadedAt, published_at: m.publishedAt,
    duration_ms: m.durationMs, ...(m.rolledBackAt ? { rolled_back_at: m.rolledBackAt } : {}), ...(m.error ? { error: m.error } : {}),
  };
}

export function versionsJson(dataset: string, current: number | null, versions: readonly VersionManifest[]): Record<string, unknown> {
  return { dataset, current_version: current === null ? null : String(current), versions: versions.map((m) => manifestJson(m, current)) };
}
