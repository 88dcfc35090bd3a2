/**
 * Names and listing of `_delta_log/` (PROTOCOL.md "Delta Log Entries", "Checkpoints" →
 * "Checkpoint Naming Scheme": classic, multi-part and UUID-named). Anything else in the folder
 * (`.crc` version checksums, `_last_checkpoint`, log compaction files, `_sidecars/`, temp files)
 * is ignored here: it is either read on purpose elsewhere or not needed to build a snapshot.
 */
import type { ObjectInfo, ObjectStore } from '../object-store.js';

export type LogFileName =
  | { readonly kind: 'commit'; readonly version: number }
  | { readonly kind: 'classic-checkpoint'; readonly version: number }
  | { readonly kind: 'multipart-checkpoint'; readonly version: number; readonly part: number; readonly parts: number }
  | { readonly kind: 'uuid-checkpoint'; readonly version: number; readonly format: 'json' | 'parquet' };

const COMMIT = /^(\d{20})\.json$/;
const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/;
const MULTIPART = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const UUID = /^(\d{20})\.checkpoint\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\.(json|parquet)$/;

/** Parses one file name (not a path) of `_delta_log/`; null for anything that is not a commit or checkpoint. */
export function parseLogFileName(name: string): LogFileName | null {
  let m = COMMIT.exec(name);
  if (m) return { kind: 'commit', version: Number(m[1]) };
  m = CLASSIC.exec(name);
  if (m) return { kind: 'classic-checkpoint', version: Number(m[1]) };
  m = MULTIPART.exec(name);
  if (m) {
    const part = Number(m[2]);
    const parts = Number(m[3]);
    return part >= 1 && part <= parts ? { kind: 'multipart-checkpoint', version: Number(m[1]), part, parts } : null;
  }
  m = UUID.exec(name);
  if (m) return { kind: 'uuid-checkpoint', version: Number(m[1]), format: m[2] as 'json' | 'parquet' };
  return null;
}

/** The 20-digit zero-padded form used in log file names. */
export function padVersion(version: number): string {
  return String(version).padStart(20, '0');
}

/** A complete checkpoint: every file needed to read the table state at `version`. */
export interface Checkpoint {
  readonly version: number;
  readonly kind: 'classic' | 'multipart' | 'uuid';
  /** Parquet (classic, multi-part, UUID .parquet) or NDJSON (UUID .json) top-level files, in part order. */
  readonly files: readonly ObjectInfo[];
  readonly format: 'json' | 'parquet';
}

export interface LogListing {
  /** Commit files by version. */
  readonly commits: ReadonlyMap<number, ObjectInfo>;
  /** Complete checkpoints, ascending by version (incomplete multi-part sets are dropped). */
  readonly checkpoints: readonly Checkpoint[];
  /** Number of entries seen (any name), so callers can tell an empty folder from one with unknown files. */
  readonly entries: number;
}

function baseName(location: string): string {
  const cut = Math.max(location.lastIndexOf('/'), location.lastIndexOf('\\'));
  return location.slice(cut + 1);
}

/**
 * Lists `_delta_log/` (direct children only: `_sidecars/` are reached through the checkpoint
 * that names them). `fromVersion` skips every file of a lower version with the store's
 * `startAfter` (file names sort by version because they are zero-padded).
 */
export async function listLog(store: ObjectStore, logDir: string, fromVersion?: number): Promise<LogListing> {
  // `<log>/000…N` sorts before every `000…N.*` name and after every lower version's files.
  const startAfter = fromVersion !== undefined && fromVersion > 0 ? store.join(logDir, padVersion(fromVersion)) : undefined;
  const commits = new Map<number, ObjectInfo>();
  const classic = new Map<number, ObjectInfo>();
  const uuid = new Map<number, { info: ObjectInfo; format: 'json' | 'parquet' }>();
  const multipart = new Map<string, Map<number, ObjectInfo>>();
  let entries = 0;
  for await (const info of store.list(logDir, startAfter === undefined ? {} : { startAfter })) {
    entries += 1;
    const parsed = parseLogFileName(baseName(info.location));
    if (parsed === null || (fromVersion !== undefined && parsed.version < fromVersion)) continue;
    if (parsed.kind === 'commit') commits.set(parsed.version, info);
    else if (parsed.kind === 'classic-checkpoint') classic.set(parsed.version, info);
    // Several UUID checkpoints for one version are equivalent; keep the first in byte order so the choice is stable.
    else if (parsed.kind === 'uuid-checkpoint') { if (!uuid.has(parsed.version)) uuid.set(parsed.version, { info, format: parsed.format }); }
    else {
      const key = `${parsed.version}/${parsed.parts}`;
      const set = multipart.get(key) ?? new Map<number, ObjectInfo>();
      set.set(parsed.part, info);
      multipart.set(key, set);
    }
  }
  return { commits, checkpoints: completeCheckpoints(classic, uuid, multipart), entries };
}

function completeCheckpoints(
  classic: Map<number, ObjectInfo>,
  uuid: Map<number, { info: ObjectInfo; format: 'json' | 'parquet' }>,
  multipart: Map<string, Map<number, ObjectInfo>>,
): Checkpoint[] {
  const byVersion = new Map<number, Checkpoint>();
  // Preference when one version has several complete checkpoints: any is a full state, so take
  // the one needing fewest reads: classic, then UUID (may add sidecars), then multi-part.
  for (const [key, parts] of multipart) {
    const [v, n] = key.split('/').map(Number) as [number, number];
    const files: ObjectInfo[] = [];
    for (let p = 1; p <= n; p++) {
      const f = parts.get(p);
      if (f === undefined) break;
      files.push(f);
    }
    if (files.length === n && !byVersion.has(v)) byVersion.set(v, { version: v, kind: 'multipart', files, format: 'parquet' });
  }
  for (const [v, { info, format }] of uuid) byVersion.set(v, { version: v, kind: 'uuid', files: [info], format });
  for (const [v, info] of classic) byVersion.set(v, { version: v, kind: 'classic', files: [info], format: 'parquet' });
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}
