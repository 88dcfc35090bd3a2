/**
 * Reads a checkpoint's actions (PROTOCOL.md "Checkpoints", "Sidecar Files", "V2 Spec", "V1
 * Spec", "Checkpoint Schema"): classic and multi-part Parquet files, UUID-named v2 checkpoints in
 * JSON or Parquet, and the `_delta_log/_sidecars/` Parquet files a v2 checkpoint names (sidecar
 * actions are followed in any checkpoint, since classic-named files may follow the v2 spec).
 * Parquet is read with hyparquet over the ObjectStore, only the action columns malt needs.
 */
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { MaltError } from '../../errors.js';
import type { ObjectStore } from '../object-store.js';
import { type DeltaAction, normalizeAction, type SidecarAction } from './actions.js';
import { readJsonActions } from './commit-reader.js';
import { logInvalid } from './delta-errors.js';
import type { Checkpoint } from './log-files.js';
import { resolveDeltaPath } from './table-path.js';

/**
 * Top-level checkpoint columns malt replays; others (txn, domainMetadata, commitInfo…) are not
 * read. Nor is `remove`: a checkpoint is already reconciled, so its removes are only tombstones
 * kept for VACUUM and never cancel one of its adds; skipping them saves reading what can be the
 * biggest column of an old table's checkpoint.
 */
const ACTION_COLUMNS = ['add', 'metaData', 'protocol', 'sidecar'];

async function readParquetActions(store: ObjectStore, location: string, size: number | undefined, tableUri: string): Promise<DeltaAction[]> {
  let rows: Record<string, unknown>[];
  try {
    const file = await store.open(location, size);
    const metadata = await parquetMetadataAsync(file);
    const present = new Set(metadata.schema.slice(1).map((e) => e.name));
    const columns = ACTION_COLUMNS.filter((c) => present.has(c));
    if (columns.length === 0) return [];
    rows = (await parquetReadObjects({ file, metadata, columns, compressors })) as Record<string, unknown>[];
  } catch (err) {
    if (err instanceof MaltError && err.code !== 'SOURCE_UNREADABLE') throw err;
    throw logInvalid(tableUri, `checkpoint file ${location} cannot be read as Parquet: ${(err as Error).message}`);
  }
  const out: DeltaAction[] = [];
  for (const row of rows) {
    const action = normalizeAction(row, location, tableUri);
    if (action !== null) out.push(action);
  }
  return out;
}

/**
 * Every action of a complete checkpoint that replay needs (add, metaData, protocol), sidecar
 * contents included; removes (tombstones) are left out. Sidecar actions themselves are consumed
 * here; a sidecar that is missing makes the checkpoint unusable (DELTA_LOG_INVALID).
 */
export async function readCheckpointActions(store: ObjectStore, tableUri: string, logDir: string, checkpoint: Checkpoint): Promise<DeltaAction[]> {
  // Parts (multi-part) and sidecars are independent files: read them in parallel, kept in order.
  const parts = await Promise.all(checkpoint.files.map((file) => (checkpoint.format === 'json'
    ? readJsonActions(store, file, tableUri)
    : readParquetActions(store, file.location, file.size, tableUri))));
  const top = parts.flat().filter((a) => a.type !== 'remove'); // tombstones (JSON v2 checkpoints carry them too)
  const sidecars = await Promise.all(top.filter((a): a is SidecarAction => a.type === 'sidecar').map(async (sidecar) => {
    // Sidecar paths are relative to `_delta_log/_sidecars/` or absolute URIs (PROTOCOL.md "Sidecar File Information").
    const location = resolveDeltaPath(store, store.join(logDir, '_sidecars'), sidecar.path, tableUri);
    const info = await store.head(location);
    if (info === null) throw logInvalid(tableUri, `checkpoint ${checkpoint.version} names sidecar ${location}, which does not exist`);
    return (await readParquetActions(store, location, info.size, tableUri)).filter((a) => a.type === 'add');
  }));
  return [...top.filter((a) => a.type !== 'sidecar'), ...sidecars.flat()];
}
