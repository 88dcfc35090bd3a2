/**
 * A plain (optionally Hive-partitioned) Parquet source, on local disk or S3: resolves the
 * configured uri to one SourceSnapshot from a listing alone. No data file is read here; the
 * loader opens the files later and takes the schema from their footers. Rules (docs/sources.md):
 *
 * - uri: one file (any name), a folder (every `*.parquet` below it, recursively), or a glob (the
 *   uri holds `*`, `?` or `[`; matched with picomatch against the path below its static prefix).
 * - Below the root, files and folders whose name starts with `_` or `.` are never data: Spark's
 *   `_SUCCESS`, `_temporary/`, `.part-0.parquet.crc`, `_delta_log/` (but a `_k=v` folder is a
 *   partition level, as in Spark).
 * - `k=v` folders are partition levels (hive-partitions.ts); `latest` keeps the greatest value of
 *   the first level; `requireSuccessMarker` wants `_SUCCESS` in the root (or the chosen folder).
 * - A folder that is (inside) a Delta table is refused: its loose files include removed ones.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { MaltError } from '../errors.js';
import { fingerprintFileSet } from './file-set-fingerprint.js';
import { latestPartitionFiles, partitionLayout, type PartitionLayout } from './hive-partitions.js';
import type { ObjectInfo, ObjectStore } from './object-store.js';
import type { DataFile, SourceSnapshot } from './source.js';

export interface ParquetSourceOptions {
  /** 'all' (the config default) loads every file; 'latest' only the newest first-level partition. */
  readonly partition: 'all' | 'latest';
  /** Refuse with SOURCE_NOT_READY unless `_SUCCESS` is present (config default false). */
  readonly requireSuccessMarker: boolean;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const GLOB_CHARS = /[*?[]/;
const SUCCESS_MARKER = '_SUCCESS';

/** Where the files are looked for: one object, a folder, or a folder plus a pattern below it. */
type Target =
  | { readonly kind: 'file'; readonly file: ObjectInfo }
  | { readonly kind: 'folder'; readonly root: string }
  | { readonly kind: 'glob'; readonly root: string; readonly matches: (relative: string) => boolean; readonly recursive: boolean };

/** A listed data file and its folder names below the root. */
interface Candidate {
  readonly info: ObjectInfo;
  readonly dirs: readonly string[];
}

interface Listing {
  readonly candidates: Candidate[];
  /** Folders (relative to the root, '' = the root) holding a `_SUCCESS` marker. */
  readonly markers: Set<string>;
  /** Objects seen below the root at all, data or not. */
  readonly seen: number;
}

/**
 * Not data: names starting with `.`, or with `_` unless a folder named `_k=v` (a partition
 * column whose name starts with `_`; Spark keeps those too), and files Hadoop is still copying.
 */
function isHidden(name: string, isFolder: boolean): boolean {
  if (name.startsWith('.')) return true;
  if (name.startsWith('_')) return !(isFolder && name.includes('='));
  return !isFolder && name.endsWith('._COPYING_');
}

/** Absolute local path, or the s3:// URI without trailing slashes; refuses other schemes. */
function normalize(store: ObjectStore, uri: string): string {
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 's3') {
    throw new MaltError('SOURCE_NOT_FOUND', `source ${uri}: unsupported scheme ${scheme}:// (use a local path or s3://bucket/prefix)`);
  }
  if ((scheme === 's3') !== (store.scheme === 's3')) {
    throw new MaltError('INTERNAL', `source ${uri} was handed to the ${store.scheme} object store`);
  }
  if (scheme === undefined) return path.resolve(uri);
  if (!/^s3:\/\/[^/*?[{]+/i.test(uri)) throw new MaltError('SOURCE_NOT_FOUND', `source ${uri}: an s3:// uri needs a bucket name (without glob characters)`);
  return uri.replace(/\/+$/, '');
}

/** The parent location, or null at the top (`/`, or the bucket of an s3:// URI). */
function parentOf(store: ObjectStore, location: string): string | null {
  if (store.scheme === 'file') {
    const up = path.dirname(location);
    return up === location ? null : up;
  }
  const cut = location.lastIndexOf('/');
  return cut <= 's3://'.length ? null : location.slice(0, cut);
}

async function locate(store: ObjectStore, uri: string, location: string): Promise<Target> {
  if (GLOB_CHARS.test(location)) {
    const scan = picomatch.scan(location);
    const root = scan.base === '' ? '/' : scan.base;
    const matcher = picomatch(scan.glob);
    return { kind: 'glob', root, matches: (rel) => matcher(rel), recursive: scan.glob.includes('/') || scan.glob.includes('**') };
  }
  const isBucket = store.scheme === 's3' && !location.slice('s3://'.length).includes('/');
  if (!uri.endsWith('/') && !isBucket) {
    const file = await store.head(location);
    if (file !== null) return { kind: 'file', file };
  }
  return { kind: 'folder', root: location };
}

function deltaTableError(uri: string, tableDir: string): MaltError {
  return new MaltError('SOURCE_UNREADABLE', `source ${uri} is (inside) a Delta Lake table (${tableDir} has a _delta_log): declare it with source.format: delta; read as loose Parquet it would include files that later commits removed`);
}

/**
 * Whether `dir` has a `_delta_log`. On local disk an empty `_delta_log/` folder counts too (a
 * table being created), which a listing of files cannot show; S3 has no empty folders.
 */
async function hasDeltaLog(store: ObjectStore, dir: string): Promise<boolean> {
  const log = store.join(dir, '_delta_log');
  if (store.scheme === 'file') {
    try {
      return (await stat(log)).isDirectory();
    } catch {
      return false;
    }
  }
  for await (const _entry of store.list(log)) return true;
  return false;
}

/**
 * Refuses when `start` or any folder above it has a `_delta_log`. `listedStart`: a recursive
 * listing of `start` follows, which shows its log on S3 without an extra request.
 */
async function refuseInsideDelta(store: ObjectStore, uri: string, start: string, listedStart: boolean): Promise<void> {
  const first = listedStart && store.scheme === 's3' ? parentOf(store, start) : start;
  for (let dir = first; dir !== null; dir = parentOf(store, dir)) {
    if (await hasDeltaLog(store, dir)) throw deltaTableError(uri, dir);
  }
}

/** Lists below the root once: data files, `_SUCCESS` markers, and any nested Delta table. */
async function listBelow(store: ObjectStore, uri: string, root: string, keep: (relative: string, name: string) => boolean, recursive: boolean): Promise<Listing> {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  const candidates: Candidate[] = [];
  const markers = new Set<string>();
  let seen = 0;
  for await (const info of store.list(root, { recursive })) {
    if (!info.location.startsWith(prefix)) continue;
    seen++;
    const relative = info.location.slice(prefix.length);
    const segments = relative.split('/');
    const hidden = segments.findIndex((segment, i) => isHidden(segment, i < segments.length - 1));
    const name = segments[segments.length - 1] as string;
    if (hidden >= 0) {
      if (segments[hidden] === '_delta_log' && hidden < segments.length - 1) {
        throw deltaTableError(uri, store.join(root, ...segments.slice(0, hidden)));
      }
      if (hidden === segments.length - 1 && name === SUCCESS_MARKER) markers.add(segments.slice(0, -1).join('/'));
      continue;
    }
    if (keep(relative, name)) candidates.push({ info, dirs: segments.slice(0, -1) });
  }
  return { candidates, markers, seen };
}

async function listTarget(store: ObjectStore, uri: string, target: Target): Promise<Listing> {
  switch (target.kind) {
    case 'file':
      return { candidates: [{ info: target.file, dirs: [] }], markers: new Set(), seen: 1 };
    case 'folder':
      await refuseInsideDelta(store, uri, target.root, true);
      return listBelow(store, uri, target.root, (_rel, name) => name.endsWith('.parquet'), true);
    case 'glob':
      await refuseInsideDelta(store, uri, target.root, target.recursive);
      return listBelow(store, uri, target.root, target.matches, target.recursive);
  }
}

function noFiles(uri: string, target: Target, listing: Listing): MaltError {
  if (target.kind === 'folder' && listing.seen === 0) {
    return new MaltError('SOURCE_NOT_FOUND', `source ${uri} does not exist (no file there, and no files below it)`);
  }
  return new MaltError('SOURCE_NOT_FOUND', `source ${uri} matched no .parquet files`);
}

/** Refuses unless every folder that must hold `_SUCCESS` does (file mode: the file's folder). */
async function requireMarkers(store: ObjectStore, uri: string, target: Target, listing: Listing, folders: readonly string[]): Promise<void> {
  if (target.kind === 'file') {
    const dir = parentOf(store, target.file.location) ?? target.file.location;
    if ((await store.head(store.join(dir, SUCCESS_MARKER))) === null) throw notReady(uri, dir);
    return;
  }
  for (const folder of folders) {
    if (!listing.markers.has(folder)) throw notReady(uri, folder === '' ? target.root : store.join(target.root, folder));
  }
}

function notReady(uri: string, dir: string): MaltError {
  return new MaltError('SOURCE_NOT_READY', `source ${uri}: ${dir} has no ${SUCCESS_MARKER} marker yet (source.require_success_marker is set), so its writer may not have finished; the load waits for it`);
}

/** Sorted by location bytes (S3's order; also the load order, so "last row wins" is stable). */
function inByteOrder(candidates: readonly Candidate[]): Candidate[] {
  return candidates
    .map((c) => ({ c, key: Buffer.from(c.info.location) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ c }) => c);
}

/** The files to load and the folders whose marker counts, per the partition option. */
function select(uri: string, candidates: readonly Candidate[], layout: PartitionLayout, options: ParquetSourceOptions): { chosen: number[]; markerFolders: string[] } {
  if (options.partition === 'all') return { chosen: candidates.map((_, i) => i), markerFolders: [''] };
  const chosen = latestPartitionFiles(uri, layout);
  const folders = new Set(chosen.map((i) => (candidates[i] as Candidate).dirs[0] as string));
  return { chosen, markerFolders: [...folders] };
}

/**
 * Resolves a Parquet source (a file, a folder, or a glob; local or s3://) to its current files.
 * snapshotId is a sha256 hex of the listing (locations, sizes, mtimes, ETags) and the options;
 * sourceAsOf is the newest chosen file's mtime; sourceVersion and schema are null. Throws
 * SOURCE_NOT_FOUND (nothing matched), SOURCE_LAYOUT_INVALID (partition folders disagree, or
 * `latest` without partitions), SOURCE_NOT_READY (no `_SUCCESS` when required) and
 * SOURCE_UNREADABLE (a Delta table).
 */
export async function resolveParquetSnapshot(store: ObjectStore, uri: string, options: ParquetSourceOptions): Promise<SourceSnapshot> {
  const location = normalize(store, uri);
  const target = await locate(store, uri, location);
  if (target.kind === 'file') await refuseInsideDelta(store, uri, parentOf(store, target.file.location) ?? target.file.location, false);
  const listing = await listTarget(store, uri, target);
  if (listing.candidates.length === 0) throw noFiles(uri, target, listing);
  const candidates = inByteOrder(listing.candidates);
  const layout = partitionLayout(uri, candidates.map((c) => ({ location: c.info.location, dirs: c.dirs })));
  const { chosen, markerFolders } = select(uri, candidates, layout, options);
  if (options.requireSuccessMarker) await requireMarkers(store, uri, target, listing, markerFolders);
  const files: DataFile[] = [];
  const infos: ObjectInfo[] = [];
  let newest = -Infinity;
  for (const i of chosen) {
    const { info } = candidates[i] as Candidate;
    const levels = layout.levels[i] ?? [];
    files.push({ location: info.location, size: info.size, partitionValues: Object.fromEntries(levels.map((l) => [l.key, l.value])), deletionVector: null });
    infos.push(info);
    newest = Math.max(newest, info.mtimeMs);
  }
  return {
    format: 'parquet',
    uri,
    snapshotId: fingerprintFileSet({ scheme: store.scheme, uri: location, options: { partition: options.partition, requireSuccessMarker: options.requireSuccessMarker } }, infos),
    sourceVersion: null,
    sourceAsOf: new Date(newest).toISOString(),
    files,
    schema: null,
    partitionColumns: layout.columns,
    store,
  };
}
