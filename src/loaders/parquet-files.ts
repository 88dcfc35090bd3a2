/**
 * Resolves a dataset's source uri (a file, a directory, or a glob) to the Parquet files it names,
 * and fingerprints that file set (paths + sizes + mtimes) so an unchanged source can be skipped.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { MaltError } from '../errors.js';

export interface SourceFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

const GLOB_CHARS = /[*?[]/;

/**
 * Files under a directory, recursively, skipping hidden and _-prefixed entries (_delta_log,
 * _SUCCESS, _temporary); `keep` filters file names (directory sources keep *.parquet).
 */
function walk(dir: string, out: string[], keep: (name: string) => boolean = (n) => n.endsWith('.parquet')): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      refuseDeltaTable(full, false);
      walk(full, out, keep);
    } else if (entry.isFile() && keep(entry.name)) out.push(full);
  }
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
        if (glob[i + 1] === '/') i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += glob.slice(i, end + 1);
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function globFiles(pattern: string): string[] {
  const parts = pattern.split('/');
  const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
  const base = parts.slice(0, firstGlob).join('/') || '/';
  refuseDeltaTable(base, true);
  const re = globToRegExp(pattern);
  const all: string[] = [];
  try {
    walk(base, all, () => true);
  } catch (err) {
    if (err instanceof MaltError) throw err;
    throw new MaltError('SOURCE_UNREADABLE', `source ${pattern}: cannot list ${base}: ${(err as Error).message}`);
  }
  return all.filter((f) => re.test(f));
}

/** Delta Lake tables are not read as loose Parquet: files later commits removed would be served. */
function refuseDeltaTable(dir: string, withAncestors: boolean): void {
  let d = path.resolve(dir);
  for (;;) {
    if (existsSync(path.join(d, '_delta_log'))) {
      throw new MaltError('SOURCE_UNREADABLE', `source ${dir} is (inside) a Delta Lake table (${d} has a _delta_log); this release reads plain Parquet only, and reading the table's files directly would include files that later commits removed`);
    }
    const parent = path.dirname(d);
    if (!withAncestors || parent === d) return;
    d = parent;
  }
}

/** Lists the source's Parquet files, sorted by path. Throws SOURCE_NOT_FOUND when none match. */
export function resolveSourceFiles(uri: string): SourceFile[] {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new MaltError('SOURCE_NOT_FOUND', `source ${uri}: only local paths are supported in this release (S3 is planned)`);
  }
  let paths: string[];
  if (GLOB_CHARS.test(uri)) {
    paths = globFiles(uri);
  } else {
    let st: Stats;
    try {
      st = statSync(uri);
    } catch {
      throw new MaltError('SOURCE_NOT_FOUND', `source ${uri} does not exist`);
    }
    paths = [];
    refuseDeltaTable(st.isDirectory() ? uri : path.dirname(uri), true);
    if (st.isDirectory()) walk(uri, paths);
    else paths.push(uri);
  }
  if (paths.length === 0) throw new MaltError('SOURCE_NOT_FOUND', `source ${uri} matched no .parquet files`);
  return paths.sort().map((p) => {
    const st = statSync(p);
    return { path: p, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) };
  });
}

/** The Parquet footer (schema, row groups, column statistics), or the last bytes of a non-Parquet file. */
function footerBytes(file: string, size: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const tail = Buffer.alloc(Math.min(8, size));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    const len = tail.length === 8 && tail.toString('latin1', 4) === 'PAR1' ? tail.readUInt32LE(0) : 0;
    if (len <= 0 || len + 8 > size || len > MAX_FOOTER_BYTES) return tail;
    const footer = Buffer.alloc(len);
    readSync(fd, footer, 0, len, size - 8 - len);
    return footer;
  } finally {
    closeSync(fd);
  }
}

const MAX_FOOTER_BYTES = 64 * 1024 * 1024;

/**
 * sha256 over the dataset declaration (a changed declaration means a reload) and, per file,
 * its path, size, mtime and Parquet footer: the footer's row-group statistics tell apart a
 * rewrite of the same size within the file system's timestamp granularity.
 */
export function fingerprint(files: readonly SourceFile[], declaration: unknown): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(declaration));
  for (const f of files) {
    h.update(`\n${f.path}\t${f.size}\t${f.mtimeMs}\t`);
    h.update(footerBytes(f.path, f.size));
  }
  return `sha256:${h.digest('hex').slice(0, 32)}`;
}
