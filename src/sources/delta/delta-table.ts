/**
 * Delta Lake table → one immutable snapshot: the exact live data files of one table version, with
 * partition values, deletion-vector descriptors, schema and provenance. No JVM: the log is read
 * through the ObjectStore (local disk or S3) and checkpoints with hyparquet.
 *
 * PROTOCOL.md (delta-io/delta) sections implemented, reader side:
 * - "Delta Log Entries", "Checkpoints" (classic, multi-part, UUID-named v2 in JSON/Parquet),
 *   "Sidecar Files", "Last Checkpoint File" (a hint only), "Checkpoint Naming Scheme",
 *   "Metadata Cleanup" (a log may start at a checkpoint) — log-files.ts, last-checkpoint.ts,
 *   log-segment.ts, checkpoint-reader.ts;
 * - "Actions" (add/remove, metaData, protocol, commitInfo, sidecar; unknown actions and fields
 *   ignored) and "Action Reconciliation" (key = path + deletion vector uniqueId) — actions.ts,
 *   log-replay.ts;
 * - "Protocol Evolution", "Table Features", "Reader Version Requirements" — protocol-check.ts;
 * - "Column Mapping" (name and id modes; partitionValues keyed by physical name) and "Schema
 *   Serialization Format" — delta-schema.ts;
 * - "Deletion Vectors" → "Derived Fields" (uniqueId, for replay) — actions.ts; "Deletion Vector
 *   Format" (read by the loader per file) — deletion-vector.ts, z85.ts, crc32.ts, roaring-portable.ts;
 * - "Add File and Remove File" (path as a URI, decoded once) — table-path.ts;
 * - "Partition Value Serialization" — partition-value.ts;
 * - "In-Commit Timestamps" (commit time used for as-of and source_as_of) — commit-reader.ts.
 * Out of scope by design, because a snapshot's file list does not depend on them: change data
 * files (`cdc`, the change data feed), log compaction files (an optional shortcut; the commits
 * they summarise are always present and are replayed instead), row tracking, domain metadata,
 * txn. Their actions are skipped like any unknown action.
 */
import { MaltError } from '../../errors.js';
import type { ObjectInfo, ObjectStore } from '../object-store.js';
import type { DataFile, SourceColumn, SourceSnapshot } from '../source.js';
import type { DeltaAction } from './actions.js';
import { readCheckpointActions } from './checkpoint-reader.js';
import { commitTimestamp, readJsonActions } from './commit-reader.js';
import { logInvalid } from './delta-errors.js';
import { type ColumnMappingMode, columnMappingMode, logicalPartitionValues, parseSchema } from './delta-schema.js';
import { readLastCheckpoint } from './last-checkpoint.js';
import { type LogListing, listLog } from './log-files.js';
import { LogReplay } from './log-replay.js';
import { buildSegment, earliestVersion, latestVersion, type LogSegment } from './log-segment.js';
import { checkReaderProtocol } from './protocol-check.js';
import { normalizeTableUri, resolveDeltaPath } from './table-path.js';

export { parsePartitionValue, type TypedPartitionValue } from './partition-value.js';

export interface DeltaSnapshot extends SourceSnapshot {
  readonly format: 'delta';
  /** The table version resolved. */
  readonly version: number;
  /** inCommitTimestamp, else commitInfo.timestamp, else the commit file's mtime (the checkpoint's when the commit was cleaned up). */
  readonly commitTimestampMs: number;
  readonly protocol: { minReaderVersion: number; minWriterVersion: number; readerFeatures: readonly string[]; writerFeatures: readonly string[] };
  readonly metadata: { id: string; schemaString: string; partitionColumns: readonly string[]; configuration: Readonly<Record<string, string>> };
  readonly columnMappingMode: ColumnMappingMode;
  /** The checkpoint the snapshot was rebuilt from (null = replayed from commit 0), and how many commits were read after it. */
  readonly logSegment: { readonly checkpointVersion: number | null; readonly checkpointKind: 'classic' | 'multipart' | 'uuid' | null; readonly commitsRead: number };
}

export interface DeltaTarget {
  /** Load exactly this version (null/undefined = latest). */
  readonly version?: number | null;
  /** Load the latest version committed at or before this RFC 3339 instant. */
  readonly asOf?: string | null;
}

const RFC3339_INSTANT = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

async function fullListing(store: ObjectStore, root: string, tableUri: string): Promise<LogListing> {
  const listing = await listLog(store, store.join(root, '_delta_log'));
  if (listing.entries === 0) throw logInvalid(tableUri, 'not a Delta table (no _delta_log folder, or it is empty)');
  return listing;
}

/**
 * A listing that is enough to rebuild `target` (latest when undefined): from the
 * `_last_checkpoint` version on when the hint is usable and verified (a complete checkpoint at
 * or after it exists in the listing), else the whole log.
 */
async function listingFor(store: ObjectStore, root: string, tableUri: string, target: number | undefined): Promise<LogListing> {
  const logDir = store.join(root, '_delta_log');
  const hint = await readLastCheckpoint(store, logDir);
  if (hint !== null && (target === undefined || hint.version <= target)) {
    const partial = await listLog(store, logDir, hint.version);
    const verified = partial.checkpoints.some((c) => c.version >= hint.version && (target === undefined || c.version <= target));
    if (verified) return partial;
  }
  return fullListing(store, root, tableUri);
}

function segmentFor(listing: LogListing, target: number | undefined, tableUri: string): LogSegment {
  const latest = latestVersion(listing);
  if (latest === null) throw logInvalid(tableUri, 'the _delta_log has no commit or checkpoint');
  return buildSegment(listing, target ?? latest, tableUri);
}

/** Commit time of `version`, reading its commit file (or the checkpoint's mtime once the commit is cleaned up). */
async function versionTimestamp(store: ObjectStore, listing: LogListing, version: number, tableUri: string): Promise<number> {
  const commit = listing.commits.get(version);
  if (commit !== undefined) return commitTimestamp(await readJsonActions(store, commit, tableUri), commit);
  const cp = listing.checkpoints.find((c) => c.version === version);
  if (cp?.files[0] !== undefined) return cp.files[0].mtimeMs;
  throw logInvalid(tableUri, `version ${version} has neither a commit nor a checkpoint file`);
}

/**
 * The latest version whose commit time is <= `asOf`. Commit times are monotonic in the log
 * (in-commit timestamps by rule; Spark also adjusts file times to be monotonic), so a binary
 * search reads O(log n) commit files instead of all of them.
 */
async function versionAsOf(store: ObjectStore, listing: LogListing, asOf: string, tableUri: string): Promise<number> {
  // An explicit zone is required: Date.parse would read a zone-less time in the process's local zone.
  const asOfMs = RFC3339_INSTANT.test(asOf) ? Date.parse(asOf) : NaN;
  if (Number.isNaN(asOfMs)) throw new MaltError('CONFIG_INVALID', `Delta table ${tableUri}: as_of ${JSON.stringify(asOf)} is not an RFC 3339 time with a zone (e.g. 2026-01-31T12:00:00Z)`);
  const earliest = earliestVersion(listing);
  const latest = latestVersion(listing);
  if (earliest === null || latest === null) throw logInvalid(tableUri, 'the _delta_log has no commit or complete checkpoint');
  const cache = new Map<number, number>();
  const ts = async (v: number): Promise<number> => {
    let t = cache.get(v);
    if (t === undefined) cache.set(v, (t = await versionTimestamp(store, listing, v, tableUri)));
    return t;
  };
  const first = await ts(earliest);
  if (first > Math.floor(asOfMs)) {
    throw logInvalid(tableUri, `as_of ${asOf} is before the earliest available version ${earliest} (committed ${new Date(first).toISOString()})`);
  }
  let lo = earliest;
  let hi = latest;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await ts(mid)) <= asOfMs) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Commits read at once: they are small, so a window hides per-request latency on S3 (the store bounds its own concurrency). */
const COMMIT_READ_WINDOW = 16;

async function replay(store: ObjectStore, root: string, tableUri: string, segment: LogSegment): Promise<{ replay: LogReplay; lastCommit: DeltaAction[] | null }> {
  // Keyed by the file a path names; a path that cannot be resolved keeps its spelling (an add
  // like that is refused when its location is built, a remove like that can name no live file).
  const r = new LogReplay((p) => {
    try {
      return resolveDeltaPath(store, root, p, tableUri);
    } catch {
      return p;
    }
  });
  if (segment.checkpoint !== null) r.apply(await readCheckpointActions(store, tableUri, store.join(root, '_delta_log'), segment.checkpoint));
  let last: DeltaAction[] | null = null;
  for (let i = 0; i < segment.commits.length; i += COMMIT_READ_WINDOW) {
    const window = segment.commits.slice(i, i + COMMIT_READ_WINDOW);
    // Read in parallel, applied strictly in version order.
    for (const actions of await Promise.all(window.map((c) => readJsonActions(store, c.file, tableUri)))) {
      r.apply(actions);
      last = actions;
    }
  }
  return { replay: r, lastCommit: last };
}

function dataFiles(store: ObjectStore, root: string, tableUri: string, r: LogReplay, schema: readonly SourceColumn[], partitionColumns: readonly string[]): DataFile[] {
  const byLogical = new Map(schema.map((c) => [c.name, c]));
  return r.files().map((add) => ({
    location: resolveDeltaPath(store, root, add.path, tableUri),
    size: add.size,
    partitionValues: logicalPartitionValues(add.partitionValues, partitionColumns, byLogical, add.path, tableUri),
    deletionVector: add.deletionVector,
  }));
}

/**
 * Resolves a Delta table to the snapshot of one version: the latest by default, `version: N`, or
 * `asOf` (RFC 3339; the latest version committed at or before it). Setting both is refused.
 * Refusals: DELTA_LOG_INVALID (not a Delta table, missing/cleaned-up versions, non-contiguous
 * commits, no protocol/metaData, corrupt log files), DELTA_UNSUPPORTED (reader version/features).
 */
export async function resolveDeltaSnapshot(store: ObjectStore, tableUri: string, target: DeltaTarget = {}): Promise<DeltaSnapshot> {
  const root = normalizeTableUri(tableUri);
  const wanted = target.version ?? undefined;
  const asOf = target.asOf ?? undefined;
  if (wanted !== undefined && asOf !== undefined) throw new MaltError('CONFIG_INVALID', `Delta table ${tableUri}: set version or as_of, not both`);
  if (wanted !== undefined && (!Number.isSafeInteger(wanted) || wanted < 0)) throw new MaltError('CONFIG_INVALID', `Delta table ${tableUri}: version must be a non-negative integer`);

  let listing: LogListing;
  let segment: LogSegment;
  if (asOf !== undefined) {
    listing = await fullListing(store, root, tableUri);
    segment = segmentFor(listing, await versionAsOf(store, listing, asOf, tableUri), tableUri);
  } else {
    listing = await listingFor(store, root, tableUri, wanted);
    try {
      segment = segmentFor(listing, wanted, tableUri);
    } catch (err) {
      // A hint-based listing knows nothing below the hint: redo with the whole log so the
      // refusal (or a success after a bad hint) reflects the real earliest/latest versions.
      listing = await fullListing(store, root, tableUri);
      segment = segmentFor(listing, wanted, tableUri);
      void err;
    }
  }
  const version = segment.version;
  const { replay: r, lastCommit } = await replay(store, root, tableUri, segment);
  if (r.protocol === null) throw logInvalid(tableUri, `version ${version} has no protocol action`);
  checkReaderProtocol(r.protocol, tableUri, version);
  if (r.metadata === null) throw logInvalid(tableUri, `version ${version} has no metaData action`);
  const mode = columnMappingMode(r.metadata.configuration, tableUri, version);
  const schema = parseSchema(r.metadata.schemaString, mode, tableUri);
  const lastFile: ObjectInfo | undefined = segment.commits[segment.commits.length - 1]?.file;
  const commitTimestampMs = lastCommit !== null && lastFile !== undefined ? commitTimestamp(lastCommit, lastFile) : await versionTimestamp(store, listing, version, tableUri);
  const m = r.metadata;
  const p = r.protocol;
  return {
    format: 'delta',
    uri: tableUri,
    snapshotId: `delta:${m.id}:${version}`,
    sourceVersion: String(version),
    sourceAsOf: new Date(commitTimestampMs).toISOString(),
    files: dataFiles(store, root, tableUri, r, schema, m.partitionColumns),
    schema,
    partitionColumns: m.partitionColumns,
    store,
    version,
    commitTimestampMs,
    protocol: { minReaderVersion: p.minReaderVersion, minWriterVersion: p.minWriterVersion, readerFeatures: p.readerFeatures, writerFeatures: p.writerFeatures },
    metadata: { id: m.id, schemaString: m.schemaString, partitionColumns: m.partitionColumns, configuration: m.configuration },
    columnMappingMode: mode,
    logSegment: { checkpointVersion: segment.checkpoint?.version ?? null, checkpointKind: segment.checkpoint?.kind ?? null, commitsRead: segment.commits.length },
  };
}

/** The newest committed version, listing only `_delta_log` (from the `_last_checkpoint` hint on when it is verified). */
export async function latestDeltaVersion(store: ObjectStore, tableUri: string): Promise<number> {
  const root = normalizeTableUri(tableUri);
  const listing = await listingFor(store, root, tableUri, undefined);
  const latest = latestVersion(listing);
  if (latest === null) throw logInvalid(tableUri, 'the _delta_log has no commit or checkpoint');
  return latest;
}

/**
 * The newest version and its commit time from a listing (from the `_last_checkpoint` hint on)
 * and one commit read: no checkpoint and no replay. Enough to tell that a table has not moved
 * since a load (sync polls), without reading a checkpoint that can be hundreds of MB.
 */
export async function deltaHead(store: ObjectStore, tableUri: string): Promise<{ version: number; commitTimestampMs: number }> {
  const root = normalizeTableUri(tableUri);
  const listing = await listingFor(store, root, tableUri, undefined);
  const latest = latestVersion(listing);
  if (latest === null) throw logInvalid(tableUri, 'the _delta_log has no commit or checkpoint');
  return { version: latest, commitTimestampMs: await versionTimestamp(store, listing, latest, tableUri) };
}
