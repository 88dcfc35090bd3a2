/**
 * The snapshot id of a plain Parquet source: a sha256 over what the listing already returned
 * (location, size, mtime, ETag per file) plus the options that chose the files. No file is
 * opened, so deciding "unchanged, skip the load" costs one listing, even on S3.
 *
 * Trade-off: on local disk a rewrite that keeps the size and lands within the same millisecond
 * mtime goes unnoticed (the old fingerprint read every footer to catch it). Writers replace
 * files rather than rewrite them in place, mtimes have sub-millisecond resolution on the usual
 * file systems, and on S3 the ETag changes with the content; `malt load --force` covers the rest.
 */
import { createHash } from 'node:crypto';
import type { ObjectInfo } from './object-store.js';

/** Bumped when the hashed layout changes, so an upgrade reloads once rather than never. */
const LAYOUT = 'malt-parquet-file-set/1';

export interface FileSetIdentity {
  readonly scheme: 'file' | 's3';
  /** The configured location. */
  readonly uri: string;
  /** Whatever else chose the files (partition mode, marker rule); JSON-serialisable. */
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * Lowercase sha256 hex (64 characters) of the identity and the files. Order-independent: files
 * are hashed sorted by location (byte order), so two listings of the same set agree.
 */
export function fingerprintFileSet(identity: FileSetIdentity, files: readonly ObjectInfo[]): string {
  const sorted = files.map((f) => ({ f, key: Buffer.from(f.location) })).sort((a, b) => Buffer.compare(a.key, b.key)).map(({ f }) => f);
  const h = createHash('sha256');
  // JSON keeps field boundaries unambiguous whatever characters a location holds.
  h.update(JSON.stringify([LAYOUT, identity.scheme, identity.uri, sortedKeys(identity.options)]));
  for (const f of sorted) h.update(`\n${JSON.stringify([f.location, f.size, f.mtimeMs, f.etag])}`);
  return h.digest('hex');
}

function sortedKeys(o: Readonly<Record<string, unknown>>): [string, unknown][] {
  return Object.keys(o).sort().map((k) => [k, o[k]]);
}
