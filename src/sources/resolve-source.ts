/**
 * A dataset's configured source → one immutable SourceSnapshot, whatever the format and store:
 * the store is picked from the URI (local path or s3://), then the format's resolver lists the
 * snapshot's files (a Delta table version, or a Parquet folder/glob with Hive partitions).
 */
import { createHash } from 'node:crypto';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { resolveDeltaSnapshot } from './delta/delta-table.js';
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
 * changed declaration means a reload) and the source's snapshot id.
 */
export function sourceFingerprint(snapshot: SourceSnapshot, declaration: unknown): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(declaration));
  h.update(`\n${snapshot.format}\t${snapshot.snapshotId}`);
  return `sha256:${h.digest('hex').slice(0, 32)}`;
}
