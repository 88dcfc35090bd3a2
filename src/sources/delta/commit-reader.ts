/**
 * Reads one NDJSON log file: a commit `N.json` (PROTOCOL.md "Delta Log Entries") or a UUID-named
 * v2 checkpoint in JSON. Each line is one action; a line that is not JSON makes the log
 * unreplayable (DELTA_LOG_INVALID naming the file) rather than being skipped.
 */
import type { ObjectInfo, ObjectStore } from '../object-store.js';
import { type CommitInfoAction, type DeltaAction, normalizeAction } from './actions.js';
import { logInvalid } from './delta-errors.js';

/** A commit bigger than this is refused rather than read into memory (real ones are KBs–MBs). */
const MAX_JSON_LOG_BYTES = 512 * 1024 * 1024;

export async function readJsonActions(store: ObjectStore, file: ObjectInfo, tableUri: string): Promise<DeltaAction[]> {
  if (file.size > MAX_JSON_LOG_BYTES) throw logInvalid(tableUri, `${file.location} is ${file.size} bytes, more than the ${MAX_JSON_LOG_BYTES} malt reads`);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(await store.read(file.location, 0, file.size));
  const out: DeltaAction[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo += 1;
    if (line.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw logInvalid(tableUri, `${file.location} line ${lineNo} is not JSON`);
    }
    const action = normalizeAction(raw, `${file.location} line ${lineNo}`, tableUri);
    if (action !== null) out.push(action);
  }
  return out;
}

/**
 * The commit time of a version (PROTOCOL.md "In-Commit Timestamps"): `commitInfo.inCommitTimestamp`
 * when the writer recorded one, else `commitInfo.timestamp`, else the commit file's mtime.
 */
export function commitTimestamp(actions: readonly DeltaAction[], file: ObjectInfo): number {
  const info = actions.find((a): a is CommitInfoAction => a.type === 'commitInfo');
  return info?.inCommitTimestamp ?? info?.timestamp ?? file.mtimeMs;
}
