/**
 * Focused Delta loads: deletion vectors, column mapping (name and id), typed partition values,
 * exact decimals, timestamp_ntz, type widening, refused column types, time travel, and a table
 * read from S3 (fauxqs) served exactly as the same table read from local disk.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import { appsClosedAfterAll, load, makeConfig, serve, tmpDir } from './support/fixtures.js';
import { startS3Server, type TestS3Server } from './support/s3-server.js';

const SPARK = path.resolve(import.meta.dirname, '../../shared/testdata/delta-spark');
const DELTA_RS = path.resolve(import.meta.dirname, '../../shared/testdata/delta');
const apps = appsClosedAfterAll();

function deltaDataset(name: string, uri: string, key: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { source, ...rest } = extra;
  return { name, source: { format: 'delta', uri, ...(source as object | undefined) }, key, checks: { min_rows: 0, max_rejected_fraction: 1 }, ...rest };
}

async function served(cfg: MaltConfig): Promise<ServingApp> {
  const app = await serve(cfg);
  apps.push(app);
  return app;
}

/** The served values of one entity in one dataset: {column: value}, or null when not found. */
async function values(app: ServingApp, dataset: string, entity: string): Promise<Record<string, unknown> | null> {
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${encodeURIComponent(entity)}?datasets=${dataset}` });
  expect(res.statusCode, res.body).toBe(200);
  const ds = res.json().datasets[0];
  if (!ds.found) return null;
  return Object.fromEntries(Object.entries(ds.features as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value]));
}

describe('Delta tables load exactly', () => {
  it('skips rows deleted by deletion vectors (row index = position in the file)', async () => {
    const cfg = makeConfig({ datasets: [
      deltaDataset('dv', path.join(SPARK, 'dv-partitioned-with-checkpoint'), 'col1'),
      deltaDataset('dvsmall', path.join(DELTA_RS, 'table-with-dv-small'), 'value'),
      deltaDataset('dvroot', path.join(SPARK, 'basic-dv-no-checkpoint'), 'id'),
    ] });
    expect(await load(cfg, 'dv')).toMatchObject({ rowsRead: 35, rows: 35, status: 'published' });
    expect(await load(cfg, 'dvsmall')).toMatchObject({ rowsRead: 8 });
    expect(await load(cfg, 'dvroot')).toMatchObject({ rowsRead: 8 });
    const app = await served(cfg);
    // The DELETEs removed the even col1 values below 30.
    for (const gone of ['0', '2', '10', '28']) expect(await values(app, 'dv', gone)).toBeNull();
    expect(await values(app, 'dv', '31')).toEqual({ part: '1', col2: 'foo1' });
    expect(await values(app, 'dv', '30')).toEqual({ part: '0', col2: 'foo0' });
    expect(await values(app, 'dvsmall', '0')).toBeNull();
    expect(await values(app, 'dvsmall', '9')).toBeNull();
    expect(await values(app, 'dvsmall', '5')).toEqual({});
    expect(await values(app, 'dvroot', '1')).toBeNull();
    expect(await values(app, 'dvroot', '2')).toEqual({});
  });

  it('column mapping: name mode (physical names) and id mode (Parquet field ids) serve logical names', async () => {
    const cols = { ByteType: 'int64', LongType: 'int64', FloatType: 'double', decimal: 'string', BooleanType: 'bool', StringType: 'string', DateType: 'timestamp', TimestampType: 'timestamp' };
    const cfg = makeConfig({ datasets: [
      deltaDataset('cmname', path.join(SPARK, 'table-with-columnmapping-mode-name'), 'IntegerType', { columns: cols }),
      deltaDataset('cmid', path.join(SPARK, 'table-with-columnmapping-mode-id'), 'IntegerType', { columns: cols }),
      deltaDataset('cmdv', path.join(SPARK, 'dv-with-columnmapping'), 'col1'),
      deltaDataset('cmrs', path.join(DELTA_RS, 'table_with_column_mapping'), 'Super Name'),
    ] });
    for (const n of ['cmname', 'cmid']) expect(await load(cfg, n)).toMatchObject({ rowsRead: 6, rows: 5, rejected: 1 });
    expect(await load(cfg, 'cmdv')).toMatchObject({ rowsRead: 35 });
    expect(await load(cfg, 'cmrs')).toMatchObject({ rowsRead: 5 });
    const app = await served(cfg);
    const four = { ByteType: '4', LongType: '4', FloatType: 4, decimal: '4.00', BooleanType: true, StringType: '4', DateType: '2021-11-18T00:00:00.000Z', TimestampType: '1970-01-01T00:00:00.004Z' };
    expect(await values(app, 'cmname', '4')).toEqual(four);
    expect(await values(app, 'cmid', '4')).toEqual(four);
    expect(await values(app, 'cmdv', '10')).toBeNull();
    expect(await values(app, 'cmdv', '47')).toEqual({ part: '7', col2: 'foo2' });
    expect(await values(app, 'cmrs', 'Stephanie Mcgrath')).toEqual({ 'Company Very Short': 'BMS' });
  });

  it('partition values are typed by the table schema; the string "null" is a value, JSON null is null', async () => {
    const cfg = makeConfig({ datasets: [
      deltaDataset('pv', path.join(SPARK, 'data-reader-partition-values'), 'value'),
      deltaDataset('pvcm', path.join(SPARK, 'data-reader-partition-values-column-mapping-name'), 'value'),
      deltaDataset('pvtyped', path.join(DELTA_RS, 'delta-2.2.0-partitioned-types'), 'c3', { columns: { c1: 'double', c2: 'string' } }),
    ] });
    const r = await load(cfg, 'pv');
    expect(r).toMatchObject({ rowsRead: 3 });
    expect(r.skippedColumns).toEqual(['as_list_of_records (array<struct>)', 'as_nested_struct (struct)']);
    await load(cfg, 'pvcm');
    await load(cfg, 'pvtyped');
    const app = await served(cfg);
    const one = {
      as_int: '1', as_long: '1', as_byte: '1', as_short: '1', as_boolean: false, as_float: 1, as_double: 1, as_string: '1',
      as_string_lit_null: 'null', as_date: '2021-09-08T00:00:00.000Z', as_timestamp: '2021-09-08T11:11:11.000Z', as_big_decimal: '1',
    };
    expect(await values(app, 'pv', '1')).toEqual(one);
    const { as_string_lit_null: _drop, ...oneCm } = one;
    expect(await values(app, 'pvcm', '1')).toEqual(oneCm);
    const nulls = await values(app, 'pv', '2');
    expect(Object.values(nulls!).every((v) => v === null)).toBe(true);
    // An int partition column declared as double.
    expect(await values(app, 'pvtyped', '5')).toEqual({ c1: 4, c2: 'c' });
  });

  it('decimals are exact: canonical text at the table scale; double only up to precision 15', async () => {
    const dir = path.join(SPARK, 'basic-decimal-table');
    const cfg = makeConfig({ datasets: [
      deltaDataset('dec', path.join(SPARK, 'decimal-various-scale-precision'), 'decimal_4_0'),
      deltaDataset('decpart', dir, 'part'),
      deltaDataset('declegacy', path.join(SPARK, 'basic-decimal-table-legacy'), 'part'),
      deltaDataset('decdouble', dir, 'part', { columns: { col1: 'double', col2: 'double' } }),
      deltaDataset('dectoowide', dir, 'part', { columns: { col3: 'double' } }),
    ] });
    expect(await load(cfg, 'dec')).toMatchObject({ rowsRead: 3, rejected: 1 });
    await load(cfg, 'decpart');
    await load(cfg, 'declegacy');
    await load(cfg, 'decdouble');
    const err = await load(cfg, 'dectoowide').catch((e) => e);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toContain('"col3"');
    expect(err.message).toContain('decimal(20,10)');
    const app = await served(cfg);
    expect(await values(app, 'dec', '-13')).toMatchObject({
      decimal_12_6: '-0.000098', decimal_18_12: '-5.190000000000', decimal_25_18: '-24199.000000000000000000',
      decimal_35_24: '-22827907.000000000000000000000000', decimal_38_36: '-0.000000000000000029546424000000000000', decimal_7_6: null,
    });
    const big = { col1: '-999.99', col2: '-99999.99999', col3: '-9999999999.9999999999' };
    expect(await values(app, 'decpart', '-2342342.23423')).toEqual(big);
    expect(await values(app, 'declegacy', '-2342342.23423')).toEqual(big);
    expect(await values(app, 'decpart', '234.00000')).toEqual({ col1: '1.00', col2: '2.00000', col3: '3.0000000000' });
    expect(await values(app, 'decdouble', '2342222.23454')).toEqual({ col1: 111.11, col2: 22222.22222 });
  });

  it('timestamp_ntz is served as the wall-clock time read as UTC (columns and partition values)', async () => {
    const cfg = makeConfig({ datasets: ['', '-name-mode', '-id-mode'].map((m, i) => deltaDataset(`ntz${i}`, path.join(SPARK, `data-reader-timestamp_ntz${m}`), 'id')) });
    for (let i = 0; i < 3; i++) expect(await load(cfg, `ntz${i}`)).toMatchObject({ rowsRead: 9, rows: 9 });
    const app = await served(cfg);
    for (let i = 0; i < 3; i++) {
      expect(await values(app, `ntz${i}`, '1')).toEqual({ tsNtz: '2013-07-05T17:01:00.123456Z', tsNtzPartition: '2021-11-18T02:30:00.123456Z' });
      expect(await values(app, `ntz${i}`, '8')).toEqual({ tsNtz: null, tsNtzPartition: null });
    }
  });

  it('type widening: older files with narrower Parquet types read exactly into the widened type', async () => {
    const cfg = makeConfig({ datasets: [deltaDataset('tw', path.join(SPARK, 'type-widening'), 'int_long')] });
    expect(await load(cfg, 'tw')).toMatchObject({ rowsRead: 2, rows: 2 });
    const app = await served(cfg);
    expect(await values(app, 'tw', '2')).toEqual({
      byte_long: '1', float_double: 3.4000000953674316, byte_double: 5, short_double: 6, int_double: 7,
      decimal_decimal_same_scale: '123.45', decimal_decimal_greater_scale: '67.89000', byte_decimal: '1.0', short_decimal: '2.0',
      int_decimal: '3.0', long_decimal: '4.0', date_timestamp_ntz: '2024-09-09T00:00:00.000Z',
    });
    expect(await values(app, 'tw', '9223372036854775807')).toMatchObject({
      byte_long: '9223372036854775807', decimal_decimal_greater_scale: '12345678901.23456', long_decimal: '123456789012345678.9',
      date_timestamp_ntz: '2024-09-09T12:34:56.123456Z',
    });
  });

  it('refuses nested, binary and missing columns by name when selected; unselected ones are fine', async () => {
    const cfg = makeConfig({ datasets: [
      deltaDataset('nest', path.join(SPARK, 'data-reader-nested-struct'), 'b', { columns: { a: 'string' } }),
      deltaDataset('arr', path.join(SPARK, 'data-reader-array-primitives'), 'as_array_string', { kind: 'features' }),
      deltaDataset('bin', path.join(SPARK, 'data-reader-primitives'), 'as_int', { columns: { as_binary: 'string' } }),
      deltaDataset('missing', path.join(SPARK, 'data-reader-primitives'), 'as_int', { columns: { as_long: 'int64', lifetime_spend: 'double' } }),
      deltaDataset('list', path.join(SPARK, 'parquet-all-types'), 'IntegerType', { columns: { array_of_prims: 'string_list' } }),
      deltaDataset('fine', path.join(SPARK, 'data-reader-nested-struct'), 'b'),
    ] });
    const refused = async (name: string) => load(cfg, name).catch((e) => e);
    const nest = await refused('nest');
    expect([nest.code, nest.message]).toEqual(['SCHEMA_MISMATCH', expect.stringMatching(/column "a" .*struct/)]);
    const arr = await refused('arr');
    expect([arr.code, arr.message]).toEqual(['SCHEMA_MISMATCH', expect.stringMatching(/key column "as_array_string" .*array<string>/)]);
    const bin = await refused('bin');
    expect([bin.code, bin.message]).toEqual(['SCHEMA_MISMATCH', expect.stringMatching(/column "as_binary" .*binary/)]);
    const missing = await refused('missing');
    expect([missing.code, missing.message]).toEqual(['SCHEMA_MISMATCH', expect.stringContaining('"lifetime_spend" is not in the schema')]);
    const list = await refused('list');
    expect([list.code, list.message]).toEqual(['SCHEMA_MISMATCH', expect.stringMatching(/column "array_of_prims" .*array<integer>/)]);
    const fine = await load(cfg, 'fine');
    expect(fine).toMatchObject({ status: 'published', rowsRead: 10, skippedColumns: ['a (struct)'] });
  });

  it('time travel: version N and as_of serve that version\'s rows', async () => {
    const uri = path.join(SPARK, 'basic-with-inserts-deletes-checkpoint');
    const cfg = makeConfig({ datasets: [
      deltaDataset('latest', uri, 'id'),
      deltaDataset('v0', uri, 'id', { source: { version: 0 } }),
      deltaDataset('v5', uri, 'id', { source: { version: 5 } }),
      // Between the commits of version 1 (…734180) and 2 (…734787).
      deltaDataset('asof', uri, 'id', { source: { as_of: new Date(1691426734500).toISOString() } }),
      deltaDataset('tooold', uri, 'id', { source: { as_of: '2020-01-01T00:00:00Z' } }),
    ] });
    expect(await load(cfg, 'latest')).toMatchObject({ rowsRead: 41 });
    expect(await load(cfg, 'v0')).toMatchObject({ rowsRead: 10 });
    expect(await load(cfg, 'v5')).toMatchObject({ rowsRead: 45 });
    expect(await load(cfg, 'asof')).toMatchObject({ rowsRead: 20 });
    expect((await load(cfg, 'tooold').catch((e) => e)).code).toBe('DELTA_LOG_INVALID');
    const app = await served(cfg);
    expect(await values(app, 'v0', '0')).toEqual({});
    expect(await values(app, 'v0', '15')).toBeNull();
    expect(await values(app, 'asof', '15')).toEqual({});
    expect(await values(app, 'asof', '25')).toBeNull();
  });
});

describe('an empty Delta table', () => {
  it('(schema, no live files) loads zero rows; min_rows decides whether it publishes', async () => {
    const root = path.join(tmpDir(), 'empty_table');
    mkdirSync(path.join(root, '_delta_log'), { recursive: true });
    const schema = JSON.stringify({ type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }, { name: 'score', type: 'double', nullable: true, metadata: {} }] });
    writeFileSync(path.join(root, '_delta_log', '00000000000000000000.json'), [
      { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
      { metaData: { id: 'e0e0e0e0-0000-4000-8000-000000000000', format: { provider: 'parquet', options: {} }, schemaString: schema, partitionColumns: [], configuration: {}, createdTime: 1700000000000 } },
      { commitInfo: { timestamp: 1700000000000, operation: 'CREATE TABLE' } },
    ].map((a) => JSON.stringify(a)).join('\n') + '\n');
    const cfg = makeConfig({ datasets: [
      deltaDataset('empty_ok', root, 'id'),
      { ...deltaDataset('empty_refused', root, 'id'), checks: { min_rows: 1 } },
    ] });
    expect(await load(cfg, 'empty_ok')).toMatchObject({ status: 'published', files: 0, rowsRead: 0, rows: 0 });
    expect((await load(cfg, 'empty_refused').catch((e) => e)).code).toBe('CHECK_FAILED');
  });
});

describe('a Delta table on S3', () => {
  let s3: TestS3Server;
  // Tables whose _delta_log has no `_`-prefixed file: fauxqs lists `_last_checkpoint` out of
  // byte order, which the S3 store refuses (rightly) as an unreliable listing.
  const TABLES = { dv: 'basic-dv-no-checkpoint', cmid: 'table-with-columnmapping-mode-id', dec: 'basic-decimal-table' };
  beforeAll(async () => {
    s3 = await startS3Server();
    await s3.createBucket('lake');
    for (const [name, table] of Object.entries(TABLES)) await s3.uploadDir(path.join(SPARK, table), 'lake', `tables/${name}`);
  }, 60_000);
  afterAll(async () => {
    await s3?.stop();
  });

  it('is served identically to the same table read from local disk, with ranged reads', async () => {
    const keys = { dv: 'id', cmid: 'IntegerType', dec: 'part' };
    const cfg = makeConfig({
      s3: { endpoint: s3.endpoint, force_path_style: true, region: 'us-east-1' },
      datasets: Object.entries(TABLES).flatMap(([name, table]) => [
        deltaDataset(`local_${name}`, path.join(SPARK, table), keys[name as keyof typeof keys]),
        deltaDataset(`s3_${name}`, `s3://lake/tables/${name}/`, keys[name as keyof typeof keys]),
      ]),
    });
    await s3.clearRequests();
    for (const name of Object.keys(TABLES)) {
      const local = await load(cfg, `local_${name}`);
      const remote = await load(cfg, `s3_${name}`);
      expect(remote).toMatchObject({ status: 'published', rowsRead: local.rowsRead, rows: local.rows, rejected: local.rejected, files: local.files });
    }
    expect((await s3.requests()).some((r) => r.method === 'GET' && r.range !== null)).toBe(true);
    const app = await served(cfg);
    const batch = async (dataset: string, ids: string[]) => {
      const res = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids, datasets: [dataset] } });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().results.map((r: { datasets: { found: boolean; features: unknown }[] }) => ({ found: r.datasets[0]!.found, features: r.datasets[0]!.features }));
    };
    const ids = Array.from({ length: 12 }, (_, i) => String(i));
    for (const name of ['dv', 'cmid']) expect(await batch(`s3_${name}`, ids)).toEqual(await batch(`local_${name}`, ids));
    expect((await batch('s3_dv', ids)).filter((r: { found: boolean }) => r.found)).toHaveLength(8);
    expect(await values(app, 's3_cmid', '4')).toMatchObject({ LongType: '4', decimal: '4.00', TimestampType: '1970-01-01T00:00:00.004Z' });
    const parts = ['-2342342.23423', '0.00004', '234.00000', '2342222.23454'];
    expect(await batch('s3_dec', parts)).toEqual(await batch('local_dec', parts));
    expect(await values(app, 's3_dec', '2342222.23454')).toEqual({ col1: '111.11', col2: '22222.22222', col3: '3333333333.3333333333' });
  }, 60_000);
});
