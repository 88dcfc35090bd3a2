/**
 * Review (issue 7): small Delta tables written here (JSON commits over Parquet files) for the
 * cases a studio's Spark tables hit and the conformance tables do not: deletion vectors over
 * files of several row groups, a file whose deletion vector is replaced commit after commit,
 * a remove spelled with the absolute path of a relative add (Spark treats both as one file),
 * schema evolution (old files lack a new column), int → long type widening, and `as_of` equal
 * to a commit's timestamp. Every case is loaded into a real Redis and read back over HTTP.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { z85Encode } from '../src/sources/delta/z85.js';
import { appsClosedAfterAll, load, makeConfig, serve } from './support/fixtures.js';

const apps = appsClosedAfterAll();
const tmpRoot = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-review-delta-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

const PROTOCOL_DV = { protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] } };
const PROTOCOL_1 = { protocol: { minReaderVersion: 1, minWriterVersion: 2 } };

function schema(fields: Record<string, string>): string {
  return JSON.stringify({ type: 'struct', fields: Object.entries(fields).map(([name, type]) => ({ name, type, nullable: true, metadata: {} })) });
}
function metaData(fields: Record<string, string>): object {
  return { metaData: { id: 'review-table', format: { provider: 'parquet', options: {} }, schemaString: schema(fields), partitionColumns: [], configuration: {}, createdTime: 0 } };
}
function add(p: string, size: number, dv: object | null = null): object {
  return { add: { path: p, partitionValues: {}, size, modificationTime: 0, dataChange: true, ...(dv ? { deletionVector: dv } : {}) } };
}
function remove(p: string, dv: object | null = null): object {
  return { remove: { path: p, deletionTimestamp: 0, dataChange: true, ...(dv ? { deletionVector: dv } : {}) } };
}
const commitInfo = (timestamp: number): object => ({ commitInfo: { timestamp, operation: 'WRITE' } });

/** A table folder with these commits (version = index); returns its root. */
function table(name: string, commits: object[][]): string {
  const root = path.join(tmpRoot, name);
  mkdirSync(path.join(root, '_delta_log'), { recursive: true });
  commits.forEach((actions, v) => {
    writeFileSync(path.join(root, '_delta_log', `${String(v).padStart(20, '0')}.json`), `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`);
  });
  return root;
}

/** Writes a Parquet data file of `id` (int64) and `v` (string) rows; returns its size. */
function dataFile(root: string, rel: string, ids: number[], opts: { rowGroupSize?: number; extra?: { name: string; type: 'int32' | 'int64' | 'string'; data: unknown[] } } = {}): number {
  const file = path.join(root, rel);
  const columns = [{ name: 'id', type: 'int64' as const, data: ids }, { name: 'v', type: 'string' as const, data: ids.map((i) => `v${i}`) }];
  writeParquet(file, opts.extra ? [...columns, opts.extra] : columns, opts.rowGroupSize ? { rowGroupSize: opts.rowGroupSize } : {});
  return statSync(file).size;
}

/** An inline deletion vector (portable 64-bit Roaring, one array container) deleting `rows` (< 65536, ascending). */
function inlineDv(rows: number[]): object {
  const n = rows.length;
  const bitmap32 = Buffer.alloc(8 + 4 * n + 4 + 2 * n);
  bitmap32.writeUInt32LE(12346, 0);
  bitmap32.writeUInt32LE(1, 4);
  bitmap32.writeUInt16LE(0, 8);
  bitmap32.writeUInt16LE(n - 1, 10);
  bitmap32.writeUInt32LE(16, 12);
  rows.forEach((r, i) => bitmap32.writeUInt16LE(r, 16 + 2 * i));
  const head = Buffer.alloc(16);
  head.writeInt32LE(1681511377, 0);
  head.writeBigUInt64LE(1n, 4);
  head.writeUInt32LE(0, 12);
  const bytes = Buffer.concat([head, bitmap32.subarray(0, 16 + 2 * n)]);
  const padded = Buffer.concat([bytes, Buffer.alloc((4 - (bytes.length % 4)) % 4)]);
  return { storageType: 'i', pathOrInlineDv: z85Encode(padded), sizeInBytes: bytes.length, cardinality: n };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function configFor(datasets: Record<string, unknown>[]): ReturnType<typeof makeConfig> {
  return makeConfig({ datasets: datasets.map((d) => ({ key: 'id', checks: { min_rows: 0, max_rejected_fraction: 1 }, ...d })) });
}

/** Which of `ids` the dataset serves, and their values. */
async function lookup(app: ServingApp, dataset: string, ids: number[]): Promise<Record<string, Record<string, unknown>>> {
  const res = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids.map(String), datasets: [dataset] } });
  expect(res.statusCode, res.body).toBe(200);
  const out: Record<string, Record<string, unknown>> = {};
  res.json().results.forEach((r: { datasets: { found: boolean; features: Record<string, { value: unknown }> }[] }, i: number) => {
    const ds = r.datasets[0]!;
    if (ds.found) out[String(ids[i])] = Object.fromEntries(Object.entries(ds.features).map(([k, v]) => [k, v.value]));
  });
  return out;
}

describe('Delta edge cases a reviewer would try', () => {
  it('serves exactly the live rows in every case', async () => {
    // 1. A DV over a file of 3 row groups (10 rows each): row index counts across row groups.
    const rg = table('dv-row-groups', []);
    const rgSize = dataFile(rg, 'part-0.parquet', range(100, 130), { rowGroupSize: 10 });
    table('dv-row-groups', [[PROTOCOL_DV, metaData({ id: 'long', v: 'string' }), add('part-0.parquet', rgSize)],
      [remove('part-0.parquet'), add('part-0.parquet', rgSize, inlineDv([0, 9, 10, 15, 29]))]]);

    // 2. The same file's DV replaced twice (UPDATE then DELETE): only the last DV counts.
    const re = table('dv-replaced', []);
    const reSize = dataFile(re, 'f.parquet', range(0, 10));
    const dv1 = inlineDv([1]);
    const dv2 = inlineDv([1, 2, 3]);
    table('dv-replaced', [[PROTOCOL_DV, metaData({ id: 'long', v: 'string' }), add('f.parquet', reSize)],
      [remove('f.parquet'), add('f.parquet', reSize, dv1)],
      [remove('f.parquet', dv1), add('f.parquet', reSize, dv2)]]);

    // 3. A remove spelled as the absolute file: URI of a relative add (with an escaped space).
    const ab = table('abs-remove', []);
    const abSize = dataFile(ab, 'a b.parquet', [1, 2]);
    const keepSize = dataFile(ab, 'keep.parquet', [3]);
    table('abs-remove', [[PROTOCOL_1, metaData({ id: 'long', v: 'string' }), add('a%20b.parquet', abSize), add('keep.parquet', keepSize)],
      [remove(`file:${ab.split(path.sep).map(encodeURIComponent).join('/')}/a%20b.parquet`)]]);

    // 4. Schema evolution + type widening: `n` added later as int (INT32 in the old file), then widened to long.
    const ev = table('evolution', []);
    const evOld = dataFile(ev, 'old.parquet', [1, 2]);
    const evMid = dataFile(ev, 'mid.parquet', [3], { extra: { name: 'n', type: 'int32', data: [7] } });
    const evNew = dataFile(ev, 'new.parquet', [4], { extra: { name: 'n', type: 'int64', data: ['9007199254740993'] } });
    table('evolution', [[PROTOCOL_1, metaData({ id: 'long', v: 'string' }), add('old.parquet', evOld)],
      [metaData({ id: 'long', v: 'string', n: 'integer' }), add('mid.parquet', evMid)],
      [{ protocol: { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['typeWidening'], writerFeatures: ['typeWidening'] } }, metaData({ id: 'long', v: 'string', n: 'long' }), add('new.parquet', evNew)]]);

    // 5. as_of exactly a commit's timestamp picks that commit.
    const tt = table('as-of', []);
    const tt0 = dataFile(tt, 'v0.parquet', [1]);
    const tt1 = dataFile(tt, 'v1.parquet', [2]);
    const tt2 = dataFile(tt, 'v2.parquet', [3]);
    table('as-of', [[commitInfo(1_700_000_000_000), PROTOCOL_1, metaData({ id: 'long', v: 'string' }), add('v0.parquet', tt0)],
      [commitInfo(1_700_000_060_000), add('v1.parquet', tt1)], [commitInfo(1_700_000_120_000), add('v2.parquet', tt2)]]);

    const cfg = configFor([
      { name: 'rg', source: { format: 'delta', uri: rg } },
      { name: 're', source: { format: 'delta', uri: re } },
      { name: 'ab', source: { format: 'delta', uri: ab } },
      { name: 'ev', source: { format: 'delta', uri: ev } },
      { name: 'tt', source: { format: 'delta', uri: tt, as_of: '2023-11-14T22:14:20Z' } },
    ]);
    expect(new Date(1_700_000_060_000).toISOString()).toBe('2023-11-14T22:14:20.000Z');
    expect(await load(cfg, 'rg')).toMatchObject({ rowsRead: 25, rows: 25 });
    expect(await load(cfg, 're')).toMatchObject({ rowsRead: 7, rows: 7 });
    expect(await load(cfg, 'ab')).toMatchObject({ rowsRead: 1, rows: 1 });
    expect(await load(cfg, 'ev')).toMatchObject({ rowsRead: 4, rows: 4 });
    expect(await load(cfg, 'tt')).toMatchObject({ sourceVersion: '1', rowsRead: 2 });
    const app = await serve(cfg);
    apps.push(app);

    const rgLive = await lookup(app, 'rg', range(100, 130));
    expect(Object.keys(rgLive).map(Number).sort((a, b) => a - b)).toEqual(range(100, 130).filter((i) => ![100, 109, 110, 115, 129].includes(i)));
    expect(rgLive['111']).toEqual({ v: 'v111' });
    expect(Object.keys(await lookup(app, 're', range(0, 10))).map(Number).sort((a, b) => a - b)).toEqual([0, 4, 5, 6, 7, 8, 9]);
    expect(Object.keys(await lookup(app, 'ab', [1, 2, 3]))).toEqual(['3']);
    expect(await lookup(app, 'ev', [1, 2, 3, 4])).toEqual({ 1: { v: 'v1', n: null }, 2: { v: 'v2', n: null }, 3: { v: 'v3', n: '7' }, 4: { v: 'v4', n: '9007199254740993' } });
    expect(Object.keys(await lookup(app, 'tt', [1, 2, 3]))).toEqual(['1', '2']);
  }, 60_000);
});
