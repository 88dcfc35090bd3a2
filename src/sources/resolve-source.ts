/**
 * A dataset's configured source → one immutable SourceSnapshot, whatever the format and store:
 * the store is picked from the URI (local path or s3://), then the format's resolver lists the
 * snapshot's files (a Delta table version, or a Parquet folder/glob with Hive partitions).
 */
import { createHash } from 'node:crypto';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { deltaHead, resolveDeltaSnapshot } from './delta/delta-table.js';
import { objectStoreFor } from './object-store-for.js';
import { resolveParquetSnapshot } from './parquet-source.js';
import type { SourceSnapshot } from './source.js';

/** Resolves the dataset's source now: the latest Delta version unless `version`/`as_of` is set. */
export async function resolveSource(config: MaltConfig, dataset: DatasetConfig): Promise<SourceSnapshot> {
  const source = dataset.source;
  const store = objectStoreFor(source.uri, config.s3);
  if (source.format === 'delta') {
    return resolveDeltaSnapshot(store, source.uri, { version: source.version, asOf: source.asOf });
  }
  return resolveParquetSnapshot(store, source.uri, { partition: source.partition, requireSuccessMarker: source.requireSuccessMarker });
}

/**
 * What a loaded version is compared by to skip an unchanged source: the dataset declaration (a
 * changed declaration means a reload) and the source's snapshot id — the Delta version, or for
 * Parquet a fingerprint of the listing alone (sizes, mtimes, and S3 ETags or, on local disk,
 * inode + nanosecond mtime/ctime, which every write moves). No data file is read.
 */
export async function sourceFingerprint(snapshot: Pick<SourceSnapshot, 'format' | 'snapshotId'>, declaration: unknown): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify(declaration));
  h.update(`\n${snapshot.format}\t${snapshot.snapshotId}`);
  return `sha256:${h.digest('hex').slice(0, 32)}`;
}

/** What a loaded version recorded about its source (a VersionManifest has these fields). */
export interface LoadedSource {
  readonly fingerprint: string;
  readonly snapshotId: string;
  readonly sourceFormat: 'parquet' | 'delta';
  readonly sourceVersion: string | null;
  readonly sourceAsOf: string | null;
}

/**
 * True when `loaded` already holds what the dataset's Delta source (following its latest
 * version) would resolve to now: same version, same commit time, same table id and declaration.
 * Costs a listing and one commit read, where resolveSource would read the checkpoint and replay
 * the log; sync polls an unchanged table with this. Pinned versions, as_of and Parquet: false.
 */
export async function deltaSourceUnchanged(config: MaltConfig, dataset: DatasetConfig, loaded: LoadedSource): Promise<boolean> {
  const source = dataset.source;
  if (source.format !== 'delta' || source.version != null || source.asOf != null) return false;
  if (loaded.sourceFormat !== 'delta' || loaded.sourceVersion === null || loaded.sourceAsOf === null) return false;
  if (loaded.snapshotId !== `${loaded.snapshotId.slice(0, loaded.snapshotId.lastIndexOf(':'))}:${loaded.sourceVersion}`) return false;
  const store = objectStoreFor(source.uri, config.s3);
  const head = await deltaHead(store, source.uri);
  if (String(head.version) !== loaded.sourceVersion || new Date(head.commitTimestampMs).toISOString() !== loaded.sourceAsOf) return false;
  return (await sourceFingerprint({ format: 'delta', snapshotId: loaded.snapshotId }, dataset)) === loaded.fingerprint;
}
