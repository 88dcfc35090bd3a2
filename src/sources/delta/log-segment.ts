/**
 * Chooses the files that rebuild one version (PROTOCOL.md "Snapshot" reading rules, "Metadata
 * Cleanup"): the newest complete checkpoint at or below the target, then every JSON commit after
 * it up to the target, which must be contiguous. Without a checkpoint the log must start at
 * version 0. The log may start at a checkpoint when earlier commits were cleaned up.
 */
import type { ObjectInfo } from '../object-store.js';
import { logInvalid } from './delta-errors.js';
import type { Checkpoint, LogListing } from './log-files.js';

export interface LogSegment {
  readonly version: number;
  readonly checkpoint: Checkpoint | null;
  /** Commits checkpoint.version+1 … version (or 0 … version), ascending. */
  readonly commits: readonly { readonly version: number; readonly file: ObjectInfo }[];
}

/** The newest version in the listing (commit or checkpoint); null for an empty log. */
export function latestVersion(listing: LogListing): number | null {
  let latest: number | null = null;
  for (const v of listing.commits.keys()) if (latest === null || v > latest) latest = v;
  for (const c of listing.checkpoints) if (latest === null || c.version > latest) latest = c.version;
  return latest;
}

/** The oldest version that can be rebuilt: 0 when commit 0 is kept, else the oldest complete checkpoint. */
export function earliestVersion(listing: LogListing): number | null {
  if (listing.commits.has(0)) return 0;
  return listing.checkpoints[0]?.version ?? null;
}

export function buildSegment(listing: LogListing, target: number, tableUri: string): LogSegment {
  const latest = latestVersion(listing);
  const earliest = earliestVersion(listing);
  if (latest === null || earliest === null) throw logInvalid(tableUri, 'the _delta_log has no commit or complete checkpoint');
  if (target > latest) throw logInvalid(tableUri, `version ${target} does not exist (latest is ${latest}, earliest available ${earliest})`);
  if (target < earliest) throw logInvalid(tableUri, `version ${target} was cleaned up from the log (earliest available is ${earliest})`);
  let checkpoint: Checkpoint | null = null;
  for (const c of listing.checkpoints) if (c.version <= target) checkpoint = c;
  const from = checkpoint === null ? 0 : checkpoint.version + 1;
  const commits: { version: number; file: ObjectInfo }[] = [];
  for (let v = from; v <= target; v++) {
    const file = listing.commits.get(v);
    if (file === undefined) {
      throw logInvalid(tableUri, `commit ${v} is missing from the log: versions ${from > 0 ? `after checkpoint ${from - 1}` : 'from 0'} to ${target} are not contiguous`);
    }
    commits.push({ version: v, file });
  }
  return { version: target, checkpoint, commits };
}
