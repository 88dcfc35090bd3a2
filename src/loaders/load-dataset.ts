/**
 * One load of one dataset: lake files → a new snapshot version → checks → atomic publish.
 * The served version changes only in the publish step (a Lua script that flips the current
 * pointer); a failed, refused, interrupted or killed load leaves it untouched, and the next
 * load reclaims whatever the failed one wrote.
 */
import type { Redis } from 'ioredis';
import { parseDefault } from '../column-types.js';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { MaltError, toMaltError } from '../errors.js';
import { KeyLayout, bucketCountFor } from '../keys.js';
import { StringDictionaryBuilder } from '../row-codec.js';
import { SnapshotStore, type VersionManifest } from '../store/snapshot-store.js';
import { type ProgressSink, silentProgress } from './load-progress.js';
import { deltaSourceUnchanged, resolveSource, sourceFingerprint } from '../sources/resolve-source.js';
import type { SourceSnapshot } from '../sources/source.js';
import { deletedRowsOf, projectedRows } from './file-projection.js';
import { type OpenParquetFile, openParquetFile } from './parquet-reader.js';
import { type RowCounters, newCounters, writeRowGroup } from './row-group-writer.js';
import { type LoadPlan, planLoad } from './source-schema.js';
import { loadWorkers, writeRowsInWorkers } from './parallel-rows.js';
import type { SnapshotWriter } from '../store/snapshot-writer.js';
import { traced } from '../telemetry/tracing.js';
import { type LoadSegmentEvents, appendLoadEvents, writerFor } from './segment-load-events.js';
import { type CheckResult, checkGateColumns, gateError, repeatedRefusal, rowGates, schemaGate } from './quality-gates.js';

export interface LoadOptions {
  /** Reload even when the source is unchanged or was rolled back (default false). */
  readonly force?: boolean;
  readonly progress?: ProgressSink;
  /** Aborting stops the load at the next batch; nothing is published and the lock is released. */
  readonly signal?: AbortSignal;
  /** The version's as-of time (RFC 3339, parseAsOfTime) instead of the source's (`malt load --as-of`). */
  readonly asOf?: string;
}

export interface LoadReport {
  readonly dataset: string;
  readonly status: 'published' | 'skipped';
  /** Why a load was skipped: the source equals the current version, or a rolled-back one. */
  readonly skipReason?: 'unchanged' | 'rolled_back';
  readonly version: number;
  readonly previousVersion: number | null;
  readonly fingerprint: string;
  /** The source snapshot loaded (or found unchanged): the Delta version (null for Parquet), its as-of time. */
  readonly sourceVersion: string | null;
  readonly sourceAsOf: string | null;
  readonly files: number;
  readonly rowsRead: number;
  readonly rows: number;
  readonly rejected: number;
  readonly rejectedReasons: Readonly<Record<string, number>>;
  readonly duplicates: number;
  /** Rows stored in more than 64 bytes (Redis stores their buckets less compactly). */
  readonly wideRows: number;
  readonly durationMs: number;
  readonly reclaimed: readonly number[];
  readonly skippedColumns: readonly string[];
  /** Quality gates that failed but were overridden by `force` ([] otherwise; a refusal throws). */
  readonly checks: readonly CheckResult[];
  /** Segment enter/exit events appended (a segments dataset with segment_events_stream). */
  readonly segmentEvents?: LoadSegmentEvents;
}

/** A load that need not run: the source is what the current (or a rolled-back) version holds. */
function skipReport(dataset: DatasetConfig, versions: readonly VersionManifest[], current: number | null, fp: string, files: number, started: number, force: boolean): LoadReport | null {
  if (force) return null;
  const same = versions.find((v) => v.fingerprint === fp && (v.id === current || v.rolledBackAt !== null));
  if (!same) return null;
  return {
    dataset: dataset.name, status: 'skipped', skipReason: same.id === current ? 'unchanged' : 'rolled_back', version: same.id,
    previousVersion: current, fingerprint: fp, sourceVersion: same.sourceVersion, sourceAsOf: same.sourceAsOf, files, rowsRead: 0, rows: same.rows, rejected: 0, rejectedReasons: {},
    duplicates: 0, wideRows: 0, durationMs: performance.now() - started, reclaimed: [], skippedColumns: [], checks: [],
  };
}

export async function loadDataset(redis: Redis, config: MaltConfig, dataset: DatasetConfig, options: LoadOptions = {}): Promise<LoadReport> {
  const started = performance.now();
  const store = new SnapshotStore(redis, new KeyLayout(config.redis.keyPrefix));
  const previous = await store.currentVersionId(dataset.name);
  const versions = await store.listVersions(dataset.name);
  // An unchanged Delta table is told from a listing and one commit, not a checkpoint read + replay.
  const current = versions.find((v) => v.id === previous);
  if (options.force !== true && current !== undefined && await deltaSourceUnchanged(config, dataset, current)) {
    return skipReport(dataset, versions, previous, current.fingerprint, current.sourceFiles, started, false) as LoadReport;
  }
  const snapshot = await traced('load.resolve_source', { 'malt.dataset': dataset.name }, () => resolveSource(config, dataset));
  const files = snapshot.files;
  const sourceAsOf = options.asOf ?? snapshot.sourceAsOf;
  const fp = await sourceFingerprint(snapshot, dataset);
  const skipped = skipReport(dataset, versions, previous, fp, files.length, started, options.force === true);
  if (skipped) return skipped;
  const refused = options.force === true ? null : repeatedRefusal(versions, previous, fp);
  if (refused) throw gateError(dataset, refused.checks, refused.id);

  const lockTtl = config.loader.lockTtlMs;
  const token = await store.acquireLock(dataset.name, lockTtl);
  let lockLost = false;
  const renew = setInterval(() => {
    store.renewLock(dataset.name, token, lockTtl).then((ok) => { if (!ok) lockLost = true; }, () => undefined);
  }, Math.max(250, Math.floor(lockTtl / 3)));
  const stopReason = (): string | null => {
    if (lockLost) return `lost the load lock of ${dataset.name} (another loader took over); nothing was published`;
    if (options.signal?.aborted) return `load of ${dataset.name} interrupted; nothing was published`;
    return null;
  };
  let version: number | null = null;
  // The gates a refused load failed, recorded on its failed version.
  let refusedBy: readonly CheckResult[] | undefined;
  try {
    await store.reclaim(dataset.name, dataset.keepVersions, { includeUnfinished: true, graceMs: config.loader.reclaimGraceMs });
    const opened = await openAll(snapshot);
    const plan = planLoad(dataset, snapshot, opened);
    checkDefaults(dataset, plan);
    checkGateColumns(dataset, plan.columns);
    const totalRows = opened.reduce((n, f, i) => n + f.numRows - (files[i]?.deletionVector?.cardinality ?? 0), 0);
    // Long-shaped segments have several rows per entity; sizing by rows keeps buckets <= BUCKET_TARGET.
    const buckets = bucketCountFor(totalRows);
    version = await store.createVersion(dataset.name, {
      kind: dataset.kind, buckets, columns: plan.columns, fingerprint: fp,
      sourceFiles: files.length, sourceBytes: files.reduce((n, f) => n + f.size, 0),
      snapshotId: snapshot.snapshotId, sourceVersion: snapshot.sourceVersion, sourceAsOf, sourceFormat: snapshot.format,
    });
    // The schema gate runs before any row is written: refusing a schema change costs no write.
    const served = versions.find((v) => v.id === previous) ?? null;
    const schemaFailed = dataset.checks.allowSchemaChange ? [] : schemaGate(plan.columns, served?.columns ?? null);
    if (schemaFailed.length > 0 && options.force !== true) {
      refusedBy = schemaFailed;
      throw gateError(dataset, schemaFailed);
    }
    const writer = writerFor(redis, store.keys, dataset, version, buckets, {
      batchRows: config.loader.batchRows, maxInFlight: config.loader.maxBatchesInFlight, stopReason,
    }, served);
    const { counters, dictionary } = await traced('load.write_rows', { 'malt.dataset': dataset.name, 'malt.rows_total': totalRows }, () => writeAll(config, dataset, snapshot, plan, writer, buckets, options.progress ?? silentProgress, totalRows));
    const totals = await writer.finish();
    const stats = { rows: totals.entities, rejected: counters.rejected, rejectedReasons: counters.reasons, valueRejects: counters.valueRejects, duplicates: totals.duplicates, durationMs: performance.now() - started };
    const failed = [...schemaFailed, ...rowGates(dataset, {
      rowsRead: counters.rowsRead, rows: stats.rows, rejected: stats.rejected, previousRows: served?.rows ?? null, nulls: counters.nulls, columns: plan.columns,
    })];
    await store.recordStats(dataset.name, version, token, { ...stats, checks: failed }, dictionary);
    if (failed.length > 0 && options.force !== true) {
      refusedBy = failed;
      throw gateError(dataset, failed);
    }
    const stop = stopReason();
    if (stop) throw new MaltError(lockLost ? 'LOAD_IN_PROGRESS' : 'LOAD_INTERRUPTED', stop);
    const published = version;
    await traced('load.publish', { 'malt.dataset': dataset.name, 'malt.version': published }, () => store.publish(dataset.name, published, token));
    const segmentEvents = await appendLoadEvents(redis, dataset, writer, version, totals.duplicates);
    const reclaimed = await store.reclaim(dataset.name, dataset.keepVersions, { includeUnfinished: false, graceMs: config.loader.reclaimGraceMs });
    return {
      dataset: dataset.name, status: 'published', version, previousVersion: previous, fingerprint: fp,
      sourceVersion: snapshot.sourceVersion, sourceAsOf, files: files.length,
      rowsRead: counters.rowsRead, rows: stats.rows, rejected: stats.rejected, rejectedReasons: stats.rejectedReasons,
      duplicates: stats.duplicates, wideRows: counters.wideRows, durationMs: performance.now() - started, reclaimed, skippedColumns: plan.skipped, checks: failed,
      ...(segmentEvents ? { segmentEvents } : {}),
    };
  } catch (err) {
    let e = toMaltError(err);
    // An abort surfaces from the writer as its stop reason; report it as an interruption.
    if (options.signal?.aborted && !lockLost && e.code === 'LOAD_IN_PROGRESS') e = new MaltError('LOAD_INTERRUPTED', e.message);
    if (version !== null) await store.markFailed(dataset.name, version, token, `${e.code}: ${e.message}`, refusedBy).catch(() => undefined);
    throw e;
  } finally {
    clearInterval(renew);
    await store.releaseLock(dataset.name, token).catch(() => undefined);
  }
}

/** Every row of the snapshot into the writer: on the main thread, or in worker threads (parallel-rows.ts, `loader.workers`). */
async function writeAll(
  config: MaltConfig, dataset: DatasetConfig, snapshot: SourceSnapshot, plan: LoadPlan, writer: SnapshotWriter,
  buckets: number, progress: ProgressSink, totalRows: number,
): Promise<{ counters: RowCounters; dictionary: readonly string[] }> {
  progress.start(dataset.name, totalRows);
  const counters = newCounters();
  const dictionary = new StringDictionaryBuilder();
  const workers = loadWorkers(config.loader.workers, plan, totalRows);
  try {
    if (workers > 0) {
      await writeRowsInWorkers({ config, dataset, snapshot, plan, writer, buckets, workers, counters, dictionary, progress });
    } else {
      for (const projection of plan.files) {
        const deleted = await deletedRowsOf(snapshot, projection.dataFile);
        for await (const rows of projectedRows(projection, deleted)) {
          await writeRowGroup(dataset, plan, rows, writer, counters, config.loader.batchRows, dictionary);
          progress.update(counters.rowsRead);
        }
      }
    }
  } finally {
    progress.done();
  }
  return { counters, dictionary: dictionary.entries };
}

/** Opens every file's footer, a few at a time (S3 round trips overlap), in snapshot order. */
async function openAll(snapshot: SourceSnapshot): Promise<OpenParquetFile[]> {
  const opened: OpenParquetFile[] = new Array(snapshot.files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < snapshot.files.length; i = next++) {
      const f = snapshot.files[i]!;
      opened[i] = await openParquetFile(snapshot.store, f.location, f.size);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, snapshot.files.length) }, worker));
  return opened;
}

function checkDefaults(dataset: DatasetConfig, plan: LoadPlan): void {
  for (const [col, raw] of Object.entries(dataset.defaults)) {
    const spec = plan.columns.find((c) => c.name === col);
    if (!spec) throw new MaltError('SCHEMA_MISMATCH', `dataset ${dataset.name} declares a default for "${col}", which is not a served column`);
    const parsed = parseDefault(spec.type, raw);
    if ('error' in parsed) throw new MaltError('SCHEMA_MISMATCH', `default for "${col}" of dataset ${dataset.name}: ${parsed.error} for a ${spec.type} column`);
  }
}
