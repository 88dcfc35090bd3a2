/**
 * One load of one dataset: lake files → a new snapshot version → checks → atomic publish.
 * The served version changes only in the publish step (a Lua script that flips the current
 * pointer); a failed, refused or killed load leaves it untouched, and the next load reclaims
 * whatever the failed one wrote.
 */
import type { Redis } from 'ioredis';
import { parseDefault } from '../column-types.js';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { MaltError, toMaltError } from '../errors.js';
import { KeyLayout, bucketCountFor } from '../keys.js';
import { StringDictionaryBuilder, encodeRow } from '../row-codec.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { type ProgressSink, silentProgress } from './load-progress.js';
import { fingerprint, resolveSourceFiles } from './parquet-files.js';
import { type OpenParquetFile, openParquetFile } from './parquet-reader.js';
import { type LoadPlan, planLoad } from './source-schema.js';
import { SnapshotWriter } from './snapshot-writer.js';
import { UNCONVERTIBLE, convertKey, convertValue } from './value-converter.js';

export interface LoadOptions {
  readonly force?: boolean;
  readonly progress?: ProgressSink;
}

export interface LoadReport {
  readonly dataset: string;
  readonly status: 'published' | 'skipped';
  readonly version: number;
  readonly previousVersion: number | null;
  readonly fingerprint: string;
  readonly files: number;
  readonly rowsRead: number;
  readonly rows: number;
  readonly rejected: number;
  readonly rejectedReasons: Readonly<Record<string, number>>;
  readonly duplicates: number;
  readonly durationMs: number;
  readonly reclaimed: readonly number[];
  readonly skippedColumns: readonly string[];
}

interface Counters {
  rowsRead: number;
  rejected: number;
  reasons: Record<string, number>;
}

function reject(c: Counters, reason: string): void {
  c.rejected++;
  c.reasons[reason] = (c.reasons[reason] ?? 0) + 1;
}

export async function loadDataset(redis: Redis, config: MaltConfig, dataset: DatasetConfig, options: LoadOptions = {}): Promise<LoadReport> {
  const started = performance.now();
  const store = new SnapshotStore(redis, new KeyLayout(config.redis.keyPrefix));
  const files = resolveSourceFiles(dataset.source.uri);
  const fp = fingerprint(files, dataset);
  const previous = await store.currentVersionId(dataset.name);
  const previousManifest = previous === null ? null : await store.manifest(dataset.name, previous);
  if (!options.force && previousManifest && previousManifest.fingerprint === fp) {
    return {
      dataset: dataset.name, status: 'skipped', version: previousManifest.id, previousVersion: previous, fingerprint: fp,
      files: files.length, rowsRead: 0, rows: previousManifest.rows, rejected: 0, rejectedReasons: {}, duplicates: 0,
      durationMs: performance.now() - started, reclaimed: [], skippedColumns: [],
    };
  }

  const lockTtl = config.loader.lockTtlMs;
  const token = await store.acquireLock(dataset.name, lockTtl);
  let lockLost = false;
  const renew = setInterval(() => {
    store.renewLock(dataset.name, token, lockTtl).then((ok) => { if (!ok) lockLost = true; }, () => undefined);
  }, Math.max(250, Math.floor(lockTtl / 3)));
  let version: number | null = null;
  try {
    await store.reclaim(dataset.name, dataset.keepVersions, { includeUnfinished: true });
    const opened: OpenParquetFile[] = [];
    for (const f of files) opened.push(await openParquetFile(f.path));
    const plan = planLoad(dataset, opened);
    checkDefaults(dataset, plan);
    const totalRows = opened.reduce((n, f) => n + f.numRows, 0);
    // Long-shaped segments have several rows per entity; sizing by rows keeps buckets <= BUCKET_TARGET.
    const buckets = bucketCountFor(totalRows);
    version = await store.createVersion(dataset.name, {
      kind: dataset.kind, buckets, columns: plan.columns, fingerprint: fp,
      sourceFiles: files.length, sourceBytes: files.reduce((n, f) => n + f.size, 0),
    });
    const writer = new SnapshotWriter(redis, store.keys, dataset.name, version, buckets, {
      batchRows: config.loader.batchRows, maxInFlight: config.loader.maxBatchesInFlight,
    });
    const progress = options.progress ?? silentProgress;
    progress.start(dataset.name, totalRows);
    const counters: Counters = { rowsRead: 0, rejected: 0, reasons: {} };
    const dict = new StringDictionaryBuilder();
    for (const file of opened) {
      for await (const rows of file.rowGroups(plan.readColumns)) {
        if (lockLost) throw new MaltError('LOAD_IN_PROGRESS', `lost the load lock of ${dataset.name} (another loader took over); nothing was published`);
        await writeRowGroup(dataset, plan, rows, writer, counters, config.loader.batchRows, dict);
        progress.update(counters.rowsRead);
      }
    }
    const totals = await writer.finish();
    if (dict.entries.length > 0) await store.saveDictionary(dataset.name, version, dict.entries);
    progress.done();
    const stats = {
      rows: totals.entities, rejected: counters.rejected, rejectedReasons: counters.reasons,
      duplicates: totals.duplicates, durationMs: performance.now() - started,
    };
    await store.recordStats(dataset.name, version, stats);
    runChecks(dataset, counters.rowsRead, stats.rows, stats.rejected, previousManifest?.rows ?? null);
    await store.publish(dataset.name, version, token);
    const reclaimed = await store.reclaim(dataset.name, dataset.keepVersions, { includeUnfinished: false });
    return {
      dataset: dataset.name, status: 'published', version, previousVersion: previous, fingerprint: fp, files: files.length,
      rowsRead: counters.rowsRead, rows: stats.rows, rejected: stats.rejected, rejectedReasons: stats.rejectedReasons,
      duplicates: stats.duplicates, durationMs: performance.now() - started, reclaimed, skippedColumns: plan.skipped,
    };
  } catch (err) {
    const e = toMaltError(err);
    if (version !== null) await store.markFailed(dataset.name, version, `${e.code}: ${e.message}`).catch(() => undefined);
    throw e;
  } finally {
    clearInterval(renew);
    await store.releaseLock(dataset.name, token).catch(() => undefined);
  }
}

async function writeRowGroup(dataset: DatasetConfig, plan: LoadPlan, rows: Record<string, unknown>[], writer: SnapshotWriter, c: Counters, batchRows: number, dict: StringDictionaryBuilder): Promise<void> {
  const key = dataset.key;
  let batch: [string, string | Buffer][] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const b = batch;
    batch = [];
    if (plan.segmentShape === 'long') await writer.writeSegmentPairs(b as [string, string][]);
    else await writer.writeValues(b);
  };
  const values: unknown[] = new Array(plan.columns.length);
  for (const row of rows) {
    c.rowsRead++;
    const k = convertKey(row[key]);
    if ('reason' in k) {
      reject(c, k.reason);
      continue;
    }
    if (plan.segmentShape === 'long') {
      const seg = row[dataset.segmentColumn as string];
      if (typeof seg !== 'string' || seg.length === 0) reject(c, 'null_segment');
      else batch.push([k.id, seg]);
    } else if (plan.segmentShape === 'wide') {
      const list = convertValue('string_list', row[dataset.segmentColumn as string]);
      if (list === UNCONVERTIBLE) reject(c, `unconvertible:${dataset.segmentColumn}`);
      else batch.push([k.id, JSON.stringify([...new Set((list as string[] | null) ?? [])].sort())]);
    } else {
      let bad: string | null = null;
      for (let i = 0; i < plan.columns.length; i++) {
        const col = plan.columns[i]!;
        const v = convertValue(col.type, row[col.name]);
        if (v === UNCONVERTIBLE) {
          bad = col.name;
          break;
        }
        values[i] = v;
      }
      if (bad !== null) reject(c, `unconvertible:${bad}`);
      else batch.push([k.id, encodeRow(plan.columns, values as never, dict)]);
    }
    if (batch.length >= batchRows) await flush();
  }
  await flush();
}

function checkDefaults(dataset: DatasetConfig, plan: LoadPlan): void {
  for (const [col, raw] of Object.entries(dataset.defaults)) {
    const spec = plan.columns.find((c) => c.name === col);
    if (!spec) throw new MaltError('SCHEMA_MISMATCH', `dataset ${dataset.name} declares a default for "${col}", which is not a served column`);
    const parsed = parseDefault(spec.type, raw);
    if ('error' in parsed) throw new MaltError('SCHEMA_MISMATCH', `default for "${col}" of dataset ${dataset.name}: ${parsed.error} for a ${spec.type} column`);
  }
}

function runChecks(dataset: DatasetConfig, rowsRead: number, rows: number, rejected: number, previousRows: number | null): void {
  const { minRows, maxRejectedFraction, maxRowDropFraction } = dataset.checks;
  if (rows < minRows) {
    throw new MaltError('CHECK_FAILED', `${dataset.name}: ${rows} rows loaded, fewer than checks.min_rows (${minRows}); nothing was published`);
  }
  if (rowsRead > 0 && rejected / rowsRead > maxRejectedFraction) {
    throw new MaltError('CHECK_FAILED', `${dataset.name}: ${rejected} of ${rowsRead} rows rejected (${((rejected / rowsRead) * 100).toFixed(2)}%), more than checks.max_rejected_fraction (${maxRejectedFraction}); nothing was published`);
  }
  if (maxRowDropFraction !== null && previousRows !== null && rows < previousRows * (1 - maxRowDropFraction)) {
    throw new MaltError('CHECK_FAILED', `${dataset.name}: ${rows} rows vs ${previousRows} in the current version, a drop of more than checks.max_row_drop_fraction (${maxRowDropFraction}); nothing was published`);
  }
}
