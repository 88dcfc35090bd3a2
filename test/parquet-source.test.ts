import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeParquet } from '../src/sample/write-parquet.js';
import { partitionValueOrder, unescapePathName } from '../src/sources/hive-partitions.js';
import { LocalObjectStore } from '../src/sources/local-store.js';
import type { AsyncBuffer, ListOptions, ObjectInfo, ObjectStore } from '../src/sources/object-store.js';
import { resolveParquetSnapshot, type ParquetSourceOptions } from '../src/sources/parquet-source.js';
import { S3ObjectStore } from '../src/sources/s3-store.js';
import type { SourceSnapshot } from '../src/sources/source.js';
import { tmpDir } from './support/fixtures.js';
import { startS3Server, type TestS3Server } from './support/s3-server.js';

const ALL: ParquetSourceOptions = { partition: 'all', requireSuccessMarker: false };
const LATEST: ParquetSourceOptions = { partition: 'latest', requireSuccessMarker: false };

/** Counts every call through a real store, so a test can assert no file was read. */
class CountingStore implements ObjectStore {
  readonly calls = { list: 0, head: 0, read: 0, open: 0 };
  constructor(private readonly inner: ObjectStore) {}
  get scheme(): 'file' | 's3' { return this.inner.scheme; }
  list(dir: string, options?: ListOptions): AsyncIterable<ObjectInfo> { this.calls.list++; return this.inner.list(dir, options); }
  head(location: string): Promise<ObjectInfo | null> { this.calls.head++; return this.inner.head(location); }
  read(location: string, start?: number, end?: number): Promise<Uint8Array> { this.calls.read++; return this.inner.read(location, start, end); }
  open(location: string, size?: number): Promise<AsyncBuffer> { this.calls.open++; return this.inner.open(location, size); }
  join(base: string, ...parts: string[]): string { return this.inner.join(base, ...parts); }
}

const local = new LocalObjectStore();
const SPARK_TABLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'testdata', 'delta-spark');

/** A Spark-written table's files without its _delta_log, copied to a temp dir: plain Hive Parquet as Spark lays it out. */
function sparkFilesWithoutLog(table: string): string {
  const to = tmpDir();
  const copy = (from: string, dest: string): void => {
    mkdirSync(dest, { recursive: true });
    for (const e of readdirSync(from, { withFileTypes: true })) {
      if (e.name === '_delta_log') continue;
      if (e.isDirectory()) copy(path.join(from, e.name), path.join(dest, e.name));
      else copyFileSync(path.join(from, e.name), path.join(dest, e.name));
    }
  };
  copy(path.join(SPARK_TABLES, table), to);
  return to;
}

function players(file: string, ids: readonly string[] = ['p1', 'p2']): void {
  writeParquet(file, [{ name: 'player_id', type: 'string', data: ids }, { name: 'ltv', type: 'double', data: ids.map((_, i) => i) }]);
}

function touch(file: string, body = ''): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, body);
}

const resolve = (uri: string, options: ParquetSourceOptions = ALL, store: ObjectStore = local): Promise<SourceSnapshot> =>
  resolveParquetSnapshot(store, uri, options);

const rel = (root: string, s: SourceSnapshot): string[] => s.files.map((f) => path.relative(root, f.location));

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(() => new Error('resolved, expected a refusal'), (e: unknown) => e);
  return err as { code: string; message: string };
}

/** A Spark-like table: two days, two countries, markers, checksums, a staging folder and junk. */
function sparkTable(root: string): void {
  players(path.join(root, 'dt=2024-01-09', 'country=FR', 'part-00000-a.snappy.parquet'));
  players(path.join(root, 'dt=2024-01-10', 'country=FR', 'part-00000-b.snappy.parquet'));
  players(path.join(root, 'dt=2024-01-10', 'country=US', 'part-00001-b.snappy.parquet'));
  touch(path.join(root, 'dt=2024-01-10', 'country=US', '.part-00001-b.snappy.parquet.crc'), 'crc');
  touch(path.join(root, '_SUCCESS'));
  touch(path.join(root, 'dt=2024-01-10', '_SUCCESS'));
  players(path.join(root, '_temporary', '0', 'part-00009.parquet'));
  players(path.join(root, 'dt=2024-01-10', '.staging', 'part-00010.parquet'));
  touch(path.join(root, 'dt=2024-01-10', 'country=US', 'README.txt'), 'not data');
}

describe('resolveParquetSnapshot: what a uri names', () => {
  it('a single file: one DataFile, no partitions, newest mtime as sourceAsOf, a sha256 snapshot id', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'players.parquet');
    players(file);
    utimesSync(file, new Date('2026-01-02T03:04:05.500Z'), new Date('2026-01-02T03:04:05.500Z'));
    const s = await resolve(file);
    expect(s).toMatchObject({ format: 'parquet', uri: file, sourceVersion: null, schema: null, partitionColumns: [], sourceAsOf: '2026-01-02T03:04:05.500Z' });
    expect(s.files).toEqual([{ location: file, size: statSync(file).size, partitionValues: {}, deletionVector: null }]);
    expect(s.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect(s.store).toBe(local);
  });

  it('a folder: every *.parquet below it, sorted; _ and . entries and non-Parquet files ignored', async () => {
    const dir = tmpDir();
    players(path.join(dir, 'b', 'part-1.parquet'));
    players(path.join(dir, 'a', 'part-0.parquet'));
    players(path.join(dir, 'top.parquet'));
    touch(path.join(dir, '_SUCCESS'));
    touch(path.join(dir, 'a', '.part-0.parquet.crc'), 'crc');
    touch(path.join(dir, 'notes.txt'), 'junk');
    touch(path.join(dir, 'a', 'part-0.parquet.bak'), 'junk');
    players(path.join(dir, '_temporary', 'attempt', 'part-9.parquet'));
    players(path.join(dir, '.hidden', 'part-8.parquet'));
    players(path.join(dir, 'b', '_partial.parquet'));
    touch(path.join(dir, 'b', 'part-2.parquet._COPYING_'), 'half');
    const s = await resolve(dir);
    expect(rel(dir, s)).toEqual(['a/part-0.parquet', 'b/part-1.parquet', 'top.parquet']);
    expect(s.partitionColumns).toEqual([]);
    expect(s.files.every((f) => Object.keys(f.partitionValues).length === 0)).toBe(true);
    // A trailing slash names the same folder.
    expect((await resolve(`${dir}/`)).snapshotId).toBe(s.snapshotId);
  });

  it('a glob: matched below its static prefix; `*` stays in one folder, `**` descends', async () => {
    const dir = tmpDir();
    sparkTable(dir);
    const deep = await resolve(path.join(dir, '**', '*.parquet'));
    expect(rel(dir, deep)).toEqual(['dt=2024-01-09/country=FR/part-00000-a.snappy.parquet', 'dt=2024-01-10/country=FR/part-00000-b.snappy.parquet', 'dt=2024-01-10/country=US/part-00001-b.snappy.parquet']);
    const flat = tmpDir();
    players(path.join(flat, 'loose.parquet'));
    players(path.join(flat, 'sub', 'nested.parquet'));
    expect(rel(flat, await resolve(path.join(flat, '*.parquet')))).toEqual(['loose.parquet']);
    expect(rel(flat, await resolve(path.join(flat, '**', '*.parquet')))).toEqual(['loose.parquet', 'sub/nested.parquet']);
    const parts = await resolve(path.join(dir, 'dt=*', 'country=US', 'part-*.parquet'));
    expect(rel(dir, parts)).toEqual(['dt=2024-01-10/country=US/part-00001-b.snappy.parquet']);
    expect(parts.partitionColumns).toEqual(['dt', 'country']);
    expect(parts.files[0]!.partitionValues).toEqual({ dt: '2024-01-10', country: 'US' });
    // The pattern decides the names (not only *.parquet); `_`/`.` entries stay excluded.
    const txt = await resolve(path.join(dir, 'dt=*', '*', '*'));
    expect(rel(dir, txt)).toContain('dt=2024-01-10/country=US/README.txt');
    expect(rel(dir, txt).some((f) => f.includes('.crc'))).toBe(false);
  });

  it('nothing there: SOURCE_NOT_FOUND, saying whether the path is missing or holds no Parquet', async () => {
    const dir = tmpDir();
    const missing = await refusal(resolve(path.join(dir, 'nothing-here')));
    expect(missing).toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    expect(missing.message).toContain('does not exist');
    touch(path.join(dir, 'junk', 'notes.txt'), 'junk');
    touch(path.join(dir, 'junk', '_SUCCESS'));
    players(path.join(dir, 'junk', '_temporary', 'part-0.parquet'));
    const junk = await refusal(resolve(path.join(dir, 'junk')));
    expect(junk).toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    expect(junk.message).toContain('matched no .parquet files');
    expect(await refusal(resolve(path.join(dir, '**', '*.parquet')))).toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    expect(await refusal(resolve('gs://bucket/table'))).toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });

  it('a Delta table (or a folder or file inside one) is refused as loose Parquet', async () => {
    const dir = tmpDir();
    const table = path.join(dir, 'delta_table');
    players(path.join(table, 'dt=1', 'part-0.parquet'));
    touch(path.join(table, '_delta_log', '00000000000000000000.json'), '{}');
    for (const uri of [table, path.join(table, 'dt=1'), path.join(table, 'dt=1', 'part-0.parquet'), path.join(table, '*', '*.parquet'), dir]) {
      const err = await refusal(resolve(uri));
      expect({ uri, code: err.code }).toEqual({ uri, code: 'SOURCE_UNREADABLE' });
      expect(err.message).toContain('Delta Lake');
    }
    // A table being created: its _delta_log folder exists but holds no commit yet.
    const fresh = path.join(dir, 'fresh_table');
    players(path.join(fresh, 'part-0.parquet'));
    mkdirSync(path.join(fresh, '_delta_log'));
    expect(await refusal(resolve(fresh))).toMatchObject({ code: 'SOURCE_UNREADABLE' });
  });
});

describe('Hive partitions', () => {
  it('k=v levels become partition values: unescaped once, the default partition is null', async () => {
    const dir = tmpDir();
    players(path.join(dir, 'ts=2024-01-01 10%3A00%3A00', 'city=S%C3%A3o Paulo', 'part-0.parquet'));
    players(path.join(dir, 'ts=2024-01-01 11%3A00%3A00', 'city=__HIVE_DEFAULT_PARTITION__', 'part-0.parquet'));
    players(path.join(dir, 'ts=100%25', 'city=a%2Fb%3Dc', 'part-0.parquet'));
    players(path.join(dir, 'ts=%2541', 'city=', 'part-0.parquet'));
    const s = await resolve(dir);
    expect(s.partitionColumns).toEqual(['ts', 'city']);
    expect(s.files.map((f) => f.partitionValues)).toEqual([
      { ts: '%41', city: '' },
      { ts: '100%', city: 'a/b=c' },
      { ts: '2024-01-01 10:00:00', city: 'São Paulo' },
      { ts: '2024-01-01 11:00:00', city: null },
    ]);
  });

  it('escaped column names are unescaped too; a value holding `=` splits at the first one', async () => {
    const dir = tmpDir();
    players(path.join(dir, 'a%3Db=x=y', 'part-0.parquet'));
    const s = await resolve(dir);
    expect(s.partitionColumns).toEqual(['a=b']);
    expect(s.files[0]!.partitionValues).toEqual({ 'a=b': 'x=y' });
  });

  it('unescapePathName: UTF-8 runs, Spark byte escapes, and malformed escapes kept', () => {
    expect(unescapePathName('caf%C3%A9')).toBe('café');
    expect(unescapePathName('caf%E9')).toBe('café'); // not UTF-8: byte by byte
    expect(unescapePathName('50%zz%')).toBe('50%zz%');
    expect(unescapePathName('%252F')).toBe('%2F');
  });

  it.each([
    ['a file one level shallower', ['dt=1/h=2/part-0.parquet', 'dt=1/part-1.parquet']],
    ['different keys at the same depth', ['dt=1/part-0.parquet', 'day=2/part-1.parquet']],
    ['the same keys in another order', ['dt=1/h=2/part-0.parquet', 'h=3/dt=1/part-1.parquet']],
    ['a file at the root of a partitioned folder', ['dt=1/part-0.parquet', 'part-1.parquet']],
    ['a plain folder among partition folders', ['dt=1/part-0.parquet', 'other/part-1.parquet']],
    ['a plain folder below a partition folder', ['dt=1/extra/part-0.parquet', 'dt=2/extra/part-1.parquet']],
    ['a column named twice', ['dt=1/dt=2/part-0.parquet']],
  ])('inconsistent levels are refused (SOURCE_LAYOUT_INVALID): %s', async (_name, files) => {
    const dir = tmpDir();
    for (const f of files) players(path.join(dir, ...f.split('/')));
    const err = await refusal(resolve(dir));
    expect(err.code).toBe('SOURCE_LAYOUT_INVALID');
    expect(err.message).toContain(dir);
  });
});

describe('Spark-written folders (shared testdata, without their _delta_log)', () => {
  it('the Delta tables themselves are refused as loose Parquet', async () => {
    const err = await refusal(resolve(path.join(SPARK_TABLES, 'data-reader-escaped-chars')));
    expect(err.code).toBe('SOURCE_UNREADABLE');
    expect(err.message).toContain('format: delta');
  });

  it('data-reader-escaped-chars: a `_2=` partition folder is a level, its Hive escapes undone once', async () => {
    const s = await resolve(sparkFilesWithoutLog('data-reader-escaped-chars'));
    expect(s.partitionColumns).toEqual(['_2']);
    expect(s.files.map((f) => f.partitionValues)).toEqual([{ _2: 'bar+%21' }, { _2: 'bar+%22' }, { _2: 'bar+%23' }]);
    expect(s.files.every((f) => f.location.endsWith('.c000.snappy.parquet'))).toBe(true);
  });

  it('data-reader-partition-values: twelve levels, the default partition as null, the string "null" kept', async () => {
    const s = await resolve(sparkFilesWithoutLog('data-reader-partition-values'));
    expect(s.partitionColumns).toEqual(['as_int', 'as_long', 'as_byte', 'as_short', 'as_boolean', 'as_float', 'as_double', 'as_string', 'as_string_lit_null', 'as_date', 'as_timestamp', 'as_big_decimal']);
    expect(s.files).toHaveLength(3);
    const byInt = Object.fromEntries(s.files.map((f) => [String(f.partitionValues['as_int']), f.partitionValues]));
    expect(Object.values(byInt['null']!).every((v) => v === null)).toBe(true);
    expect(byInt['1']).toMatchObject({ as_boolean: 'false', as_string_lit_null: 'null', as_timestamp: '2021-09-08 11:11:11', as_big_decimal: '1' });
    expect((await resolve(sparkFilesWithoutLog('data-reader-partition-values'), LATEST)).files.map((f) => f.partitionValues['as_int'])).toEqual(['1']);
  });

  it('kernel-timestamp-partition-col-ISO8601: escaped date-time folders, latest picks the newest', async () => {
    const dir = sparkFilesWithoutLog('kernel-timestamp-partition-col-ISO8601');
    expect((await resolve(dir)).files.map((f) => f.partitionValues['ts'])).toEqual(['2024-01-01 10:00:00', '2024-01-02 12:30:00']);
    expect((await resolve(dir, LATEST)).files.map((f) => f.partitionValues['ts'])).toEqual(['2024-01-02 12:30:00']);
  });
});

describe("partition: 'latest'", () => {
  it('keeps only the greatest value of the first level (nulls never win), with every file below it', async () => {
    const dir = tmpDir();
    sparkTable(dir);
    players(path.join(dir, 'dt=__HIVE_DEFAULT_PARTITION__', 'country=FR', 'part-0.parquet'));
    const s = await resolve(dir, LATEST);
    expect(rel(dir, s)).toEqual(['dt=2024-01-10/country=FR/part-00000-b.snappy.parquet', 'dt=2024-01-10/country=US/part-00001-b.snappy.parquet']);
    expect(s.partitionColumns).toEqual(['dt', 'country']);
    expect((await resolve(dir)).files).toHaveLength(4);
  });

  it.each([
    ['integers numerically', ['9', '10', '-3'], '10'],
    ['unpadded dates as dates', ['2024-1-9', '2024-1-10', '2023-12-31'], '2024-1-10'],
    ['date-times as date-times', ['2024-01-10 9:00:00', '2024-01-10 10:00:00'], '2024-01-10 10:00:00'],
    ['anything else as strings', ['9', '10', 'x'], 'x'],
    ['strings by bytes', ['b', 'B', 'a10', 'a9'], 'b'],
  ])('orders %s', async (_name, values, greatest) => {
    const dir = tmpDir();
    for (const v of values) players(path.join(dir, `v=${encodeURIComponent(v).replace(/%20/g, ' ')}`, 'part-0.parquet'));
    const s = await resolve(dir, LATEST);
    expect(s.files.map((f) => f.partitionValues['v'])).toEqual([greatest]);
  });

  it('partitionValueOrder: ISO dates sort as strings would; mixed integers and text sort as text', () => {
    const iso = ['2024-01-09', '2024-01-10', '2023-12-31'];
    expect([...iso].sort(partitionValueOrder(iso))).toEqual([...iso].sort());
    const mixed = ['10', '9', 'a'];
    expect([...mixed].sort(partitionValueOrder(mixed))).toEqual(['10', '9', 'a']);
  });

  it('an unpartitioned source (a folder or a single file) is refused, saying latest needs partitions', async () => {
    const dir = tmpDir();
    players(path.join(dir, 'a', 'part-0.parquet'));
    for (const uri of [dir, path.join(dir, 'a', 'part-0.parquet')]) {
      const err = await refusal(resolve(uri, LATEST));
      expect(err.code).toBe('SOURCE_LAYOUT_INVALID');
      expect(err.message).toMatch(/latest needs a Hive-partitioned folder/);
    }
    const onlyNull = tmpDir();
    players(path.join(onlyNull, 'dt=__HIVE_DEFAULT_PARTITION__', 'part-0.parquet'));
    expect(await refusal(resolve(onlyNull, LATEST))).toMatchObject({ code: 'SOURCE_LAYOUT_INVALID' });
  });
});

describe('requireSuccessMarker', () => {
  it('all: the root must hold _SUCCESS (a marker deeper down does not count)', async () => {
    const dir = tmpDir();
    players(path.join(dir, 'dt=1', 'part-0.parquet'));
    touch(path.join(dir, 'dt=1', '_SUCCESS'));
    const err = await refusal(resolve(dir, { partition: 'all', requireSuccessMarker: true }));
    expect(err.code).toBe('SOURCE_NOT_READY');
    expect(err.message).toContain(`${dir} has no _SUCCESS`);
    expect((await resolve(dir)).files).toHaveLength(1); // not required: fine
    touch(path.join(dir, '_SUCCESS'));
    expect((await resolve(dir, { partition: 'all', requireSuccessMarker: true })).files).toHaveLength(1);
    // A glob's root is its static prefix.
    expect((await resolve(path.join(dir, 'dt=*', '*.parquet'), { partition: 'all', requireSuccessMarker: true })).files).toHaveLength(1);
  });

  it('latest: the chosen partition folder must hold _SUCCESS, whatever the root or older partitions hold', async () => {
    const dir = tmpDir();
    players(path.join(dir, 'dt=2024-01-09', 'part-0.parquet'));
    touch(path.join(dir, 'dt=2024-01-09', '_SUCCESS'));
    players(path.join(dir, 'dt=2024-01-10', 'part-0.parquet'));
    touch(path.join(dir, '_SUCCESS'));
    const opts: ParquetSourceOptions = { partition: 'latest', requireSuccessMarker: true };
    const err = await refusal(resolve(dir, opts));
    expect(err.code).toBe('SOURCE_NOT_READY');
    expect(err.message).toContain(path.join(dir, 'dt=2024-01-10'));
    touch(path.join(dir, 'dt=2024-01-10', '_SUCCESS'));
    expect(rel(dir, await resolve(dir, opts))).toEqual(['dt=2024-01-10/part-0.parquet']);
  });

  it("a single file: its folder's _SUCCESS", async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'x.parquet');
    players(file);
    const opts: ParquetSourceOptions = { partition: 'all', requireSuccessMarker: true };
    expect(await refusal(resolve(file, opts))).toMatchObject({ code: 'SOURCE_NOT_READY' });
    touch(path.join(dir, '_SUCCESS'));
    expect((await resolve(file, opts)).files).toHaveLength(1);
  });
});

describe('the snapshot id fingerprints the listing', () => {
  it('changes when a file is added, removed or rewritten; not when nothing (or only junk) changed', async () => {
    const dir = tmpDir();
    const a = path.join(dir, 'dt=1', 'a.parquet');
    const b = path.join(dir, 'dt=1', 'b.parquet');
    players(a);
    const t0 = new Date('2026-03-01T00:00:00.000Z');
    utimesSync(a, t0, t0);
    const first = (await resolve(dir)).snapshotId;
    expect((await resolve(dir)).snapshotId).toBe(first);
    touch(path.join(dir, 'notes.txt'), 'junk');
    touch(path.join(dir, '_SUCCESS'));
    touch(path.join(dir, 'dt=1', '.a.parquet.crc'), 'crc');
    expect((await resolve(dir)).snapshotId).toBe(first);

    players(b);
    const added = (await resolve(dir)).snapshotId;
    expect(added).not.toBe(first);
    rmSync(b);
    expect((await resolve(dir)).snapshotId).toBe(first);

    players(a, ['p1', 'p2', 'p3']); // new size
    utimesSync(a, t0, t0);
    const resized = (await resolve(dir)).snapshotId;
    expect(resized).not.toBe(first);
    utimesSync(a, t0, new Date('2026-03-01T00:00:00.500Z')); // same size, mtime moved
    const touched = await resolve(dir);
    expect(touched.snapshotId).not.toBe(resized);
    expect(touched.sourceAsOf).toBe('2026-03-01T00:00:00.500Z');
  });

  it('depends on the options and the uri, not only on the files', async () => {
    const dir = tmpDir();
    players(path.join(dir, 'dt=1', 'a.parquet'));
    touch(path.join(dir, '_SUCCESS'));
    touch(path.join(dir, 'dt=1', '_SUCCESS'));
    const ids = new Set([
      (await resolve(dir)).snapshotId,
      (await resolve(dir, LATEST)).snapshotId,
      (await resolve(dir, { partition: 'all', requireSuccessMarker: true })).snapshotId,
      (await resolve(path.join(dir, '**', '*.parquet'))).snapshotId,
    ]);
    expect(ids.size).toBe(4);
  });

  it('sourceAsOf is the newest chosen file mtime (latest ignores older partitions)', async () => {
    const dir = tmpDir();
    const old = path.join(dir, 'dt=1', 'a.parquet');
    const neu = path.join(dir, 'dt=2', 'a.parquet');
    players(old);
    players(neu);
    utimesSync(old, new Date('2026-05-05T00:00:00Z'), new Date('2026-05-05T00:00:00Z'));
    utimesSync(neu, new Date('2026-04-04T00:00:00Z'), new Date('2026-04-04T00:00:00Z'));
    expect((await resolve(dir)).sourceAsOf).toBe('2026-05-05T00:00:00.000Z');
    expect((await resolve(dir, LATEST)).sourceAsOf).toBe('2026-04-04T00:00:00.000Z');
  });

  it('resolving never reads or opens a file, in any mode', async () => {
    const dir = tmpDir();
    sparkTable(dir);
    const uris: [string, ParquetSourceOptions][] = [
      [dir, ALL],
      [dir, { partition: 'latest', requireSuccessMarker: true }],
      [path.join(dir, '**', '*.parquet'), { partition: 'all', requireSuccessMarker: true }],
      [path.join(dir, 'dt=2024-01-09', 'country=FR', 'part-00000-a.snappy.parquet'), ALL],
    ];
    for (const [uri, options] of uris) {
      const store = new CountingStore(local);
      const s = await resolve(uri, options, store);
      expect(s.files.length).toBeGreaterThan(0);
      expect({ uri, read: store.calls.read, open: store.calls.open }).toEqual({ uri, read: 0, open: 0 });
      expect(store.calls.list + store.calls.head).toBeGreaterThan(0);
    }
  });
});

/** A Spark-like table on S3: an escaped value, the default partition, markers, staging, a checksum, junk. */
const S3_TREE = [
  '_SUCCESS',
  '_temporary/0/part-00009.parquet',
  'dt=2024-01-07/country=a%3Ab/part-00002-a.snappy.parquet',
  'dt=2024-01-08/country=__HIVE_DEFAULT_PARTITION__/part-00003-a.snappy.parquet',
  'dt=2024-01-09/country=FR/part-00000-a.snappy.parquet',
  'dt=2024-01-10/_SUCCESS',
  'dt=2024-01-10/_temporary/part-00010.parquet',
  'dt=2024-01-10/country=FR/part-00000-b.snappy.parquet',
  'dt=2024-01-10/country=US/.part-00001-b.snappy.parquet.crc',
  'dt=2024-01-10/country=US/notes.txt',
  'dt=2024-01-10/country=US/part-00001-b.snappy.parquet',
];

describe('the same rules over S3', () => {
  let s3: TestS3Server;
  let store: S3ObjectStore;
  const bucket = 'lake';

  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.createBucket(bucket);
    store = new S3ObjectStore({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' });
    const dir = tmpDir();
    for (const key of S3_TREE) {
      const file = path.join(dir, 'players', ...key.split('/'));
      if (key.endsWith('.parquet')) players(file);
      else touch(file, 'not parquet');
    }
    players(path.join(dir, 'bad', 'dt=1', 'part-0.parquet'));
    players(path.join(dir, 'bad', 'dt=1', 'h=2', 'part-0.parquet'));
    await s3.uploadDir(dir, bucket, '');
  });
  afterAll(async () => {
    store?.close();
    await s3?.stop();
  });

  it('a partitioned folder: partition values, ETags in the fingerprint, no GET of any object', async () => {
    await s3.clearRequests();
    const counting = new CountingStore(store);
    const s = await resolve('s3://lake/players/', ALL, counting);
    expect(s.files.map((f) => f.location)).toEqual([
      's3://lake/players/dt=2024-01-07/country=a%3Ab/part-00002-a.snappy.parquet',
      's3://lake/players/dt=2024-01-08/country=__HIVE_DEFAULT_PARTITION__/part-00003-a.snappy.parquet',
      's3://lake/players/dt=2024-01-09/country=FR/part-00000-a.snappy.parquet',
      's3://lake/players/dt=2024-01-10/country=FR/part-00000-b.snappy.parquet',
      's3://lake/players/dt=2024-01-10/country=US/part-00001-b.snappy.parquet',
    ]);
    expect(s.partitionColumns).toEqual(['dt', 'country']);
    expect(s.files.map((f) => f.partitionValues['country'])).toEqual(['a:b', null, 'FR', 'FR', 'US']);
    expect(s.files.every((f) => f.size > 0 && f.deletionVector === null)).toBe(true);
    expect(s.sourceAsOf).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(counting.calls).toMatchObject({ read: 0, open: 0 });
    const requests = await s3.requests();
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.method === 'GET' && !r.url.includes('list-type'))).toEqual([]);
    expect((await resolve('s3://lake/players', ALL, store)).snapshotId).toBe(s.snapshotId);
  });

  it('a glob, latest with its _SUCCESS, and the fingerprint moving when an object is added or rewritten', async () => {
    const glob = await resolve('s3://lake/players/dt=*/country=FR/part-*.parquet', ALL, store);
    expect(glob.files.map((f) => f.partitionValues)).toEqual([{ dt: '2024-01-09', country: 'FR' }, { dt: '2024-01-10', country: 'FR' }]);
    const latest = await resolve('s3://lake/players', { partition: 'latest', requireSuccessMarker: true }, store);
    expect(latest.files.map((f) => f.location.split('/').slice(-3).join('/'))).toEqual([
      'dt=2024-01-10/country=FR/part-00000-b.snappy.parquet',
      'dt=2024-01-10/country=US/part-00001-b.snappy.parquet',
    ]);
    const before = (await resolve('s3://lake/players', ALL, store)).snapshotId;
    await s3.putObject(bucket, 'players/dt=2024-01-11/country=FR/part-0.parquet', new Uint8Array([1, 2, 3]));
    const added = (await resolve('s3://lake/players', ALL, store)).snapshotId;
    expect(added).not.toBe(before);
    // Same key, same size, new bytes: the ETag moves the id.
    await s3.putObject(bucket, 'players/dt=2024-01-11/country=FR/part-0.parquet', new Uint8Array([3, 2, 1]));
    expect((await resolve('s3://lake/players', ALL, store)).snapshotId).not.toBe(added);
    // The new day has no _SUCCESS yet.
    expect(await refusal(resolve('s3://lake/players', { partition: 'latest', requireSuccessMarker: true }, store))).toMatchObject({ code: 'SOURCE_NOT_READY' });
  });

  it('refusals: inconsistent levels, nothing matched', async () => {
    expect(await refusal(resolve('s3://lake/bad', ALL, store))).toMatchObject({ code: 'SOURCE_LAYOUT_INVALID' });
    expect(await refusal(resolve('s3://lake/nothing-here', ALL, store))).toMatchObject({ code: 'SOURCE_NOT_FOUND' });
    expect(await refusal(resolve('s3://lake/players/*.parquet', ALL, store))).toMatchObject({ code: 'SOURCE_NOT_FOUND' });
  });
});
