/**
 * Turns a path from the log (`add.path`, a sidecar path) into a store location. PROTOCOL.md "Add
 * File and Remove File": the path is an RFC 2396 URI, relative to the table root or absolute,
 * "which needs to be decoded to get the data file path". It is decoded exactly once: a Hive-
 * escaped directory `a=b%21` appears in the log as `a=b%2521` and must stay `a=b%21` on disk.
 */
import { fileURLToPath } from 'node:url';
import type { ObjectStore } from '../object-store.js';
import { logInvalid } from './delta-errors.js';

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

function decode(part: string, raw: string, tableUri: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw logInvalid(tableUri, `path ${JSON.stringify(raw)} in the log is not a valid URI (bad percent-escape)`);
  }
}

/** A table URI as given in config: an absolute local path, a `file:` URI or `s3://bucket/prefix`. */
export function normalizeTableUri(tableUri: string): string {
  const trimmed = tableUri.replace(/\/+$/, '');
  return trimmed.startsWith('file:') ? fileURLToPath(trimmed) : trimmed;
}

/** `root` is the directory the path is relative to (table root, or `_delta_log/_sidecars`). */
export function resolveDeltaPath(store: ObjectStore, root: string, logPath: string, tableUri: string): string {
  const scheme = SCHEME.exec(logPath)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (logPath.startsWith('/')) {
      // A scheme-less absolute path: only meaningful on local disk.
      if (store.scheme !== 'file') throw logInvalid(tableUri, `path ${JSON.stringify(logPath)} is an absolute local path but the table is on ${store.scheme}`);
      return decode(logPath, logPath, tableUri);
    }
    const segments = logPath.split('/').filter((s) => s !== '').map((s) => decode(s, logPath, tableUri));
    if (segments.some((s) => s === '..' || s === '.')) throw logInvalid(tableUri, `path ${JSON.stringify(logPath)} leaves the table root`);
    return store.join(root, ...segments);
  }
  if (scheme === 'file') {
    if (store.scheme !== 'file') throw logInvalid(tableUri, `path ${JSON.stringify(logPath)} is a local file but the table is on ${store.scheme}`);
    try {
      return fileURLToPath(logPath);
    } catch {
      throw logInvalid(tableUri, `path ${JSON.stringify(logPath)} is not a valid file URI`);
    }
  }
  if (scheme === 's3' || scheme === 's3a' || scheme === 's3n') {
    if (store.scheme !== 's3') throw logInvalid(tableUri, `path ${JSON.stringify(logPath)} is on S3 but the table is on ${store.scheme}`);
    const rest = logPath.slice(scheme.length + 3);
    const slash = rest.indexOf('/');
    if (!logPath.slice(scheme.length).startsWith('://') || slash <= 0) throw logInvalid(tableUri, `path ${JSON.stringify(logPath)} is not an s3://bucket/key URI`);
    const key = rest.slice(slash + 1).split('/').map((s) => decode(s, logPath, tableUri)).join('/');
    return `s3://${rest.slice(0, slash)}/${key}`;
  }
  throw logInvalid(tableUri, `path ${JSON.stringify(logPath)} uses the ${scheme}: scheme, which malt cannot read`);
}
