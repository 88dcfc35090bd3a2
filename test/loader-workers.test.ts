/**
 * `loader.workers`: a load decoded and encoded by worker threads (src/loaders/parallel-rows.ts)
 * leaves Redis exactly as the one-thread load of the same table does — every bucket hash's
 * fields and value bytes, the string dictionary (ids assigned first-seen across the whole load,
 * also when it fills up part-way), the version's stats and counters — for plain, Hive-partitioned
 * and Delta sources; a row group a worker cannot decode fails the load with the one-thread
 * load's error; and `auto` keeps small tables on the main thread.
 */
import { linkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaltConfig } from '../src/config.js';
import { KeyLayout } from '../src/keys.js';
import { loadDataset } from '../src/loaders/load-dataset.js';
import { AUTO_MIN_ROWS, loadWorkers, usableCpus } from '../src/loaders/parallel-rows.js';
import type { LoadPlan } from '../src/loaders/source-schema.js';
import { DICTIONARY_MAX_ENTRIES } from '../src/row-codec.js';
import { z85Encode } from '../src/sources/delta/z85.js';
import { closeObjectStores } from '../src/sources/object-store-for.js';
import { startS3Server, type TestS3Server } from './support/s3-server.js';
import { load, makeConfig, newRedis, tmpDir } from './support/fixtures.js';

const FILES = 4;
const ROWS_PER_FILE = 6_000;
const ROW_GROUP = 1_500;
const COUNTRIES = ['DE', 'SE', 'US', 'BR', 'JP', 'Ünïcode ✓', ''];
const TAGS = ['pvp', 'guild_leader', 'whale', 'new', 'x'.repeat(60)];

/** One file's rows: nulls in every column, bad and repeated keys, strings repeated across files and row groups. */
function fileColumns(f: number): { name: string; data: unknown[] }[] {
  const n = ROWS_PER_FILE;
  const idx = Array.from({ length: n }, (_, i) => f * n + i);
  return [
    // Every 997th key is null (a rejected row); file 3 repeats some ids of file 0 (duplicates, later wins).
    { name: 'player_id', data: idx.map((i) => (i % 997 === 5 ? null : f === 3 && i % 50 === 0 ? `p${i - 3 * n}` : `p${i}`)) },
    { name: 'level', data: idx.map((i) => (i % 13 === 0 ? null : i % 101 === 0 ? 9_007_199_254_740_993n + BigInt(i) : BigInt(i % 300))) },
    { name: 'ts', data: idx.map((i) => (i % 17 === 0 ? null : 1_764_000_000_000_000n + BigInt(i) * (i % 2 === 0 ? 1000n : 7n))) },
    { name: 'amount', data: idx.map((i) => (i % 19 === 0 ? null : BigInt(i * 37 - 50_000))) },
    { name: 'ltv', data: idx.map((i) => (i % 11 === 0 ? null : i % 3 === 0 ? i : i / 7)) },
    { name: 'is_payer', data: idx.map((i) => (i % 23 === 0 ? null : i % 2 === 0)) },
    { name: 'country', data: idx.map((i) => (i % 29 === 0 ? null : COUNTRIES[i % COUNTRIES.length])) },
    // ~24k distinct short strings: the dictionary (16 384 entries) fills part-way through the load.
    { name: 'name', data: idx.map((i) => (i % 31 === 0 ? null : i % 5 === 0 ? `a rather long display name that is inline ${i}` : `n${i}`)) },
    { name: 'tags', data: idx.map((i) => (i % 37 === 0 ? null : i % 41 === 0 ? ['pvp', null, 'whale'] : [TAGS[i % TAGS.length], TAGS[(i >> 3) % TAGS.length], `t${i % 400}`])) },
  ];
}

const SCHEMA = [
  { name: 'root', num_children: 9 },
  { name: 'player_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'level', type: 'INT64', repetition_type: 'OPTIONAL' },
  { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MICROS', repetition_type: 'OPTIONAL' },
  { name: 'amount', type: 'INT64', converted_type: 'DECIMAL', precision: 12, scale: 2, repetition_type: 'OPTIONAL' },
  { name: 'ltv', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'is_payer', type: 'BOOLEAN', repetition_type: 'OPTIONAL' },
  { name: 'country', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'name', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
];

const COLUMNS = { level: 'int64', ts: 'timestamp', amount: 'double', ltv: 'double', is_payer: 'bool', country: 'string', name: 'string', tags: 'string_list' };

function writeFile(file: string, f: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  parquetWriteFile({ filename: file, columnData: fileColumns(f), schema: SCHEMA, rowGroupSize: ROW_GROUP } as never);
}

/** Rows deleted by the Delta table's (inline) deletion vectors, per file: across row groups. */
const DELETED: Readonly<Record<number, readonly number[]>> = { 1: [0, 3, 1499, 1500, 4000, 5999], 2: [2, 3000] };

/** An inline deletion vector (Z85 of the portable Roaring bitmap, PROTOCOL.md) deleting `rows` (< 65 536, sorted). */
function inlineDv(rows: readonly number[]): Record<string, unknown> {
  const head = Buffer.alloc(12 + 4 + 16);
  head.writeInt32LE(1681511377, 0); // magic
  head.writeBigUInt64LE(1n, 4); // one 32-bit bitmap, high bits 0
  head.writeUInt32LE(0, 12);
  head.writeUInt32LE(12346, 16); // no run containers
  head.writeUInt32LE(1, 20); // one container
  head.writeUInt16LE(0, 24); // key 0
  head.writeUInt16LE(rows.length - 1, 26);
  head.writeUInt32LE(16, 28); // the container's offset within the 32-bit bitmap
  const body = Buffer.alloc(2 * rows.length);
  rows.forEach((r, i) => body.writeUInt16LE(r, 2 * i));
  const bitmap = Buffer.concat([head, body]);
  const padded = Buffer.concat([bitmap, Buffer.alloc((4 - (bitmap.length % 4)) % 4)]);
  return { storageType: 'i', pathOrInlineDv: z85Encode(padded), sizeInBytes: bitmap.length, cardinality: rows.length };
}

/** The same table three ways: loose files, Hive partitions (region=…/), and a Delta table over the Hive files. */
function writeTable(): { plain: string; hive: string; delta: string } {
  const dir = tmpDir();
  const plain = path.join(dir, 'plain');
  const hive = path.join(dir, 'hive');
  const delta = path.join(dir, 'delta');
  mkdirSync(path.join(delta, '_delta_log'), { recursive: true });
  const adds: string[] = [];
  for (let f = 0; f < FILES; f++) {
    writeFile(path.join(plain, `part-${f}.parquet`), f);
    const rel = `region=r${f % 2}/part-${f}.parquet`;
    mkdirSync(path.dirname(path.join(hive, rel)), { recursive: true });
    linkSync(path.join(plain, `part-${f}.parquet`), path.join(hive, rel));
    mkdirSync(path.dirname(path.join(delta, rel)), { recursive: true });
    linkSync(path.join(plain, `part-${f}.parquet`), path.join(delta, rel));
    const size = readFileSync(path.join(plain, `part-${f}.parquet`)).length;
    const gone = DELETED[f];
    const dv = gone === undefined ? {} : { deletionVector: inlineDv(gone) };
    adds.push(JSON.stringify({ add: { path: rel, partitionValues: { region: `r${f % 2}` }, size, modificationTime: 1_764_000_000_000, dataChange: true, ...dv } }));
  }
  const field = (name: string, type: string): Record<string, unknown> => ({ name, type, nullable: true, metadata: {} });
  const schemaString = JSON.stringify({ type: 'struct', fields: [
    field('player_id', 'string'), field('level', 'long'), field('ts', 'timestamp'), field('amount', 'decimal(12,2)'), field('ltv', 'double'),
    field('is_payer', 'boolean'), field('country', 'string'), field('name', 'string'), { name: 'tags', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
    field('region', 'string'),
  ] });
  writeFileSync(path.join(delta, '_delta_log', '00000000000000000000.json'), [
    JSON.stringify({ commitInfo: { timestamp: 1_764_000_000_000, operation: 'WRITE' } }),
    JSON.stringify({ protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] } }),
    JSON.stringify({ metaData: { id: 'workers-test', format: { provider: 'parquet', options: {} }, schemaString, partitionColumns: ['region'], configuration: {}, createdTime: 1_764_000_000_000 } }),
    ...adds,
  ].join('\n') + '\n');
  return { plain, hive, delta };
}

/** Everything a version holds in Redis, with the fields that differ between any two loads (times, uid) left out. */
async function keyspace(redis: Redis, cfg: MaltConfig, dataset: string, version: number): Promise<Record<string, unknown>> {
  const keys = new KeyLayout(cfg.redis.keyPrefix);
  const manifest = await redis.hgetall(keys.manifest(dataset, version));
  for (const f of Object.keys(manifest)) if (/_at$|_ms$|^uid$|^current_since$/.test(f)) delete manifest[f];
  const buckets: Record<string, [string, string][]> = {};
  const prefix = keys.bucketPrefix(dataset, version);
  for (let b = 0; b < Number(manifest['buckets']); b++) {
    const all = await redis.hgetallBuffer(prefix + b);
    buckets[b] = Object.entries(all).map(([f, v]) => [f, v.toString('base64')] as [string, string]).sort((x, y) => (x[0] < y[0] ? -1 : 1));
  }
  return { manifest, dictionary: await redis.get(keys.dictionary(dataset, version)), buckets };
}

async function loadWith(workers: number, source: Record<string, unknown>, columns: Record<string, string>, extra: Record<string, unknown> = {}) {
  const cfg = makeConfig({ ...extra, loader: { workers }, datasets: [{ name: 'w', kind: 'features', source, key: 'player_id', columns }] });
  const report = await load(cfg, 'w');
  const redis = newRedis(cfg);
  try {
    return { report: { ...report, durationMs: 0 }, keyspace: await keyspace(redis, cfg, 'w', report.version) };
  } finally {
    redis.disconnect();
  }
}

describe('loader.workers', () => {
  const table = writeTable();
  const deleted = Object.values(DELETED).reduce((n, rows) => n + rows.length, 0);
  const sources: [string, Record<string, unknown>, Record<string, string>, number][] = [
    ['plain Parquet', { format: 'parquet', uri: table.plain }, COLUMNS, FILES * ROWS_PER_FILE],
    ['Hive-partitioned Parquet', { format: 'parquet', uri: table.hive }, { ...COLUMNS, region: 'string' }, FILES * ROWS_PER_FILE],
    ['Delta with deletion vectors', { format: 'delta', uri: table.delta }, { ...COLUMNS, region: 'string' }, FILES * ROWS_PER_FILE - deleted],
  ];

  it.each(sources)('%s: 3 workers leave the same keyspace, stats and dictionary as 1', async (_what, source, columns, rowsRead) => {
    const one = await loadWith(1, source, columns);
    const three = await loadWith(3, source, columns);
    expect(one.report).toMatchObject({ status: 'published', rowsRead });
    // The table exercises what makes this hard: rejected rows, duplicates, a full dictionary.
    expect(one.report.rejected).toBeGreaterThan(0);
    expect(one.report.duplicates).toBeGreaterThan(0);
    expect(JSON.parse(one.keyspace['dictionary'] as string)).toHaveLength(DICTIONARY_MAX_ENTRIES);
    expect(three.report).toEqual(one.report);
    expect(three.keyspace).toEqual(one.keyspace);
  }, 60_000);

  describe('from S3 (workers open their own S3 client)', () => {
    let s3: TestS3Server | undefined;
    beforeAll(async () => {
      s3 = await startS3Server();
      await s3.createBucket('lake');
      await s3.uploadDir(table.delta, 'lake', 'delta');
    }, 60_000);
    afterAll(async () => {
      closeObjectStores();
      await s3?.stop();
    });

    it('a Delta table with deletion vectors on S3: 3 workers leave the same keyspace as 1', async () => {
      const s3Config = { endpoint: s3!.endpoint, force_path_style: true, region: 'us-east-1' };
      const columns = { ...COLUMNS, region: 'string' };
      const one = await loadWith(1, { format: 'delta', uri: 's3://lake/delta' }, columns, { s3: s3Config });
      const three = await loadWith(3, { format: 'delta', uri: 's3://lake/delta' }, columns, { s3: s3Config });
      expect(one.report).toMatchObject({ status: 'published', rowsRead: FILES * ROWS_PER_FILE - deleted, sourceVersion: '0' });
      expect(three.report).toEqual(one.report);
      expect(three.keyspace).toEqual(one.keyspace);
    }, 60_000);
  });

  it('a row group a worker cannot decode fails the load with the error of a one-thread load', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'bad', 'part-0.parquet');
    writeFile(file, 0);
    writeFile(path.join(dir, 'bad', 'part-1.parquet'), 1);
    // Overwrite the middle of the data pages (the footer stays readable): a later row group is corrupt.
    const bytes = readFileSync(file);
    bytes.fill(0xff, Math.floor(bytes.length * 0.55), Math.floor(bytes.length * 0.7));
    writeFileSync(file, bytes);
    const failure = async (workers: number): Promise<unknown> => {
      const cfg = makeConfig({ loader: { workers }, datasets: [{ name: 'w', kind: 'features', source: { format: 'parquet', uri: path.join(dir, 'bad') }, key: 'player_id', columns: COLUMNS }] });
      return load(cfg, 'w').then(() => 'published', (e: unknown) => e);
    };
    const one = await failure(1);
    const three = await failure(3);
    expect(one).toMatchObject({ code: 'SOURCE_UNREADABLE' });
    expect(three).toMatchObject({ code: (one as { code: string }).code, message: (one as Error).message });
  }, 60_000);

  it('an abort part-way stops the workers: LOAD_INTERRUPTED, nothing published, the lock released', async () => {
    const cfg = makeConfig({ loader: { workers: 3 }, datasets: [{ name: 'w', kind: 'features', source: { format: 'parquet', uri: table.plain }, key: 'player_id', columns: COLUMNS }] });
    const redis = newRedis(cfg);
    try {
      const abort = new AbortController();
      const progress = { start: () => undefined, update: () => abort.abort(), done: () => undefined };
      const err = await loadDataset(redis, cfg, cfg.datasets[0]!, { signal: abort.signal, progress }).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'LOAD_INTERRUPTED' });
      const keys = new KeyLayout(cfg.redis.keyPrefix);
      expect(await redis.get(keys.current('w'))).toBeNull();
      expect(await redis.exists(keys.lock('w'))).toBe(0);
      // The next load (same process) runs normally: nothing of the stopped one is left running.
      expect(await loadDataset(redis, cfg, cfg.datasets[0]!)).toMatchObject({ status: 'published', rowsRead: FILES * ROWS_PER_FILE });
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('usable CPUs: the cores node may run on, capped by a cgroup v2 CPU quota (a container limit)', () => {
    const cores = availableParallelism();
    expect(usableCpus(null)).toBe(cores);
    expect(usableCpus('max 100000\n')).toBe(cores);
    expect(usableCpus('100000 100000\n')).toBe(1);
    expect(usableCpus('50000 100000\n')).toBe(1);
    expect(usableCpus('150000 100000\n')).toBe(1);
    expect(usableCpus(`${(cores + 8) * 100000} 100000\n`)).toBe(cores);
    if (cores >= 2) expect(usableCpus('200000 100000\n')).toBe(2);
  });

  it('auto (0) uses workers only for tables of at least AUTO_MIN_ROWS rows and 2 row groups; never for segments', () => {
    const plan = (groups: number, segmentShape: LoadPlan['segmentShape'] = null): LoadPlan => ({
      columns: [], readColumns: [], segmentShape, skipped: [],
      files: [{ file: { metadata: { row_groups: new Array(groups) } } }] as unknown as LoadPlan['files'],
    });
    expect(loadWorkers(0, plan(8), AUTO_MIN_ROWS - 1)).toBe(0);
    const auto = Math.min(usableCpus(), 4);
    expect(loadWorkers(0, plan(8), AUTO_MIN_ROWS)).toBe(auto >= 2 ? auto : 0);
    expect(loadWorkers(1, plan(8), 10 ** 6)).toBe(0);
    expect(loadWorkers(3, plan(8), 10)).toBe(3);
    expect(loadWorkers(3, plan(2), 10)).toBe(2);
    expect(loadWorkers(3, plan(1), 10 ** 6)).toBe(0);
    expect(loadWorkers(3, plan(8, 'long'), 10 ** 6)).toBe(0);
  });
});
