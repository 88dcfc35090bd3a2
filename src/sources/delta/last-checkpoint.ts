/**
 * `_delta_log/_last_checkpoint` (PROTOCOL.md "Last Checkpoint File"). Used as a hint only: it
 * may be missing, empty, half-written or older than the newest checkpoint, so every problem
 * here yields null and the caller falls back to (or verifies with) a listing.
 */
import type { ObjectStore } from '../object-store.js';

export interface LastCheckpointHint {
  readonly version: number;
}

/** Bigger than any real `_last_checkpoint` (it holds a schema and a few v2 actions). */
const MAX_HINT_BYTES = 4 * 1024 * 1024;

export async function readLastCheckpoint(store: ObjectStore, logDir: string): Promise<LastCheckpointHint | null> {
  const location = store.join(logDir, '_last_checkpoint');
  try {
    const info = await store.head(location);
    if (info === null || info.size === 0 || info.size > MAX_HINT_BYTES) return null;
    const parsed: unknown = JSON.parse(new TextDecoder().decode(await store.read(location, 0, info.size)));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const version = (parsed as Record<string, unknown>)['version'];
    return typeof version === 'number' && Number.isSafeInteger(version) && version >= 0 ? { version } : null;
  } catch {
    // A hint that cannot be read is no hint: the listing decides (corrupted-last-checkpoint-kernel).
    return null;
  }
}
