/**
 * Hive-partitioned Parquet folders (`dt=…/country=…/part-0.parquet`, as Spark writes them): the
 * partition levels are served as columns (strings unless declared), `partition: latest` loads only
 * the newest first-level value, and `require_success_marker` waits for Spark's `_SUCCESS`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { parquetWriteFile } from 'hyparquet-writer';
import { writeParquet } from '../src/sample/write-parquet.js';
import { appsClosedAfterAll, load, makeConfig, serve, tmpDir } from './support/fixtures.js';

const apps = appsClosedAfterAll();

function writeFile(file: string, ids: string[], score: number): void {
  writeParquet(file, [
    { name: 'player_id', type: 'string', data: ids },
    { name: 'score', type: 'double', data: ids.map((_, i) => score + i) },
  ]);
}

/** lake/dt=2026-01-30/region=eu/, dt=2026-01-31/region=eu|us/, dt=…/region=__HIVE_DEFAULT_PARTITION__/ */
function writeLake(): string {
  const root = path.join(tmpDir(), 'lake');
  writeFile(path.join(root, 'dt=2026-01-30', 'region=eu', 'part-0.parquet'), ['a', 'b'], 10);
  writeFile(path.join(root, 'dt=2026-01-31', 'region=eu', 'part-0.parquet'), ['c'], 20);
  writeFile(path.join(root, 'dt=2026-01-31', 'region=us', 'part-0.parquet'), ['d'], 30);
  writeFile(path.join(root, 'dt=2026-01-31', 'region=__HIVE_DEFAULT_PARTITION__', 'part-0.parquet'), ['e'], 40);
  writeFileSync(path.join(root, 'dt=2026-01-31', 'region=us', '.part-0.parquet.crc'), 'not data');
  return root;
}

async function values(app: ServingApp, dataset: string, entity: string): Promise<Record<string, unknown> | null> {
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${entity}?datasets=${dataset}` });
  expect(res.statusCode, res.body).toBe(200);
  const ds = res.json().datasets[0];
  return ds.found ? Object.fromEntries(Object.entries(ds.features as Record<string, { value: unknown }>).map(([k, v]) => [k, v.value])) : null;
}

const dataset = (name: string, uri: string, extra: Record<string, unknown> = {}): Record<string, unknown> => {
  const { source, ...rest } = extra;
  return { name, source: { format: 'parquet', uri, ...(source as object | undefined) }, key: 'player_id', ...rest };
};

describe('Hive-partitioned Parquet', () => {
  it('serves partition levels as columns: strings when inferred, typed when declared, the Hive null as null', async () => {
    const root = writeLake();
    const cfg = makeConfig({ datasets: [
      dataset('inferred', root),
      dataset('typed', root, { columns: { score: 'double', dt: 'timestamp', region: 'string' } }),
    ] });
    expect(await load(cfg, 'inferred')).toMatchObject({ status: 'published', files: 4, rowsRead: 5, rows: 5 });
    expect(await load(cfg, 'typed')).toMatchObject({ files: 4, rows: 5 });
    const app = await serve(cfg);
    apps.push(app);
    expect(await values(app, 'inferred', 'a')).toEqual({ score: 10, dt: '2026-01-30', region: 'eu' });
    expect(await values(app, 'inferred', 'd')).toEqual({ score: 30, dt: '2026-01-31', region: 'us' });
    expect(await values(app, 'inferred', 'e')).toEqual({ score: 40, dt: '2026-01-31', region: null });
    expect(await values(app, 'typed', 'b')).toEqual({ score: 11, dt: '2026-01-30T00:00:00.000Z', region: 'eu' });
  });

  it('refuses a partition value that is not of the declared type, naming column and value', async () => {
    const root = writeLake();
    const cfg = makeConfig({ datasets: [dataset('badtype', root, { columns: { score: 'double', region: 'int64' } })] });
    const err = await load(cfg, 'badtype').catch((e) => e);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toMatch(/partition column "region" .*"eu" is not a valid integer/);
  });

  it('partition: latest loads only the newest dt=', async () => {
    const root = writeLake();
    const cfg = makeConfig({ datasets: [dataset('latest', root, { source: { partition: 'latest' }, columns: { score: 'double', dt: 'string', region: 'string' } })] });
    expect(await load(cfg, 'latest')).toMatchObject({ files: 3, rowsRead: 3, rows: 3 });
    const app = await serve(cfg);
    apps.push(app);
    expect(await values(app, 'latest', 'a')).toBeNull();
    expect(await values(app, 'latest', 'c')).toEqual({ score: 20, dt: '2026-01-31', region: 'eu' });
    expect(await values(app, 'latest', 'd')).toEqual({ score: 30, dt: '2026-01-31', region: 'us' });
  });

  it('require_success_marker: refused (SOURCE_NOT_READY) until _SUCCESS is written, then loads', async () => {
    const root = writeLake();
    const cfg = makeConfig({ datasets: [dataset('ready', root, { source: { require_success_marker: true } })] });
    const err = await load(cfg, 'ready').catch((e) => e);
    expect(err.code).toBe('SOURCE_NOT_READY');
    writeFileSync(path.join(root, '_SUCCESS'), '');
    expect(await load(cfg, 'ready')).toMatchObject({ status: 'published', rows: 5 });
    rmSync(path.join(root, '_SUCCESS'));
  });

  it('a partition level can be the key; declared partition columns of every scalar type', async () => {
    const root = path.join(tmpDir(), 'bykey');
    for (const [player, level, payer, ratio] of [['p1', '7', 'true', '0.5'], ['p2', '9007199254740993', 'false', '-1e3']] as const) {
      writeParquet(path.join(root, `player_id=${player}`, `level=${level}`, `payer=${payer}`, `ratio=${ratio}`, 'part-0.parquet'), [
        { name: 'country', type: 'string', data: ['DE'] },
      ]);
    }
    const cfg = makeConfig({ datasets: [dataset('bykey', root, { columns: { country: 'string', level: 'int64', payer: 'bool', ratio: 'double' } })] });
    expect(await load(cfg, 'bykey')).toMatchObject({ rows: 2 });
    const app = await serve(cfg);
    apps.push(app);
    expect(await values(app, 'bykey', 'p2')).toEqual({ country: 'DE', level: '9007199254740993', payer: false, ratio: -1000 });
    expect(await values(app, 'bykey', 'p1')).toEqual({ country: 'DE', level: '7', payer: true, ratio: 0.5 });
  });

  it('DECIMAL columns are exact (string: canonical text; inferred: nearest double); ENUM reads as string', async () => {
    const root = path.join(tmpDir(), 'dec');
    const file = path.join(root, 'dt=2026-01-31', 'part-0.parquet');
    mkdirSync(path.dirname(file), { recursive: true });
    parquetWriteFile({ filename: file, columnData: [
      { name: 'player_id', data: ['p1', 'p2'] },
      { name: 'spend', data: [1234567890123456789n, -5n] },
      { name: 'tier', data: ['gold', null] },
    ] as never, schema: [
      { name: 'root', num_children: 3 },
      { name: 'player_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'spend', type: 'INT64', converted_type: 'DECIMAL', precision: 18, scale: 2, repetition_type: 'OPTIONAL' },
      { name: 'tier', type: 'BYTE_ARRAY', converted_type: 'ENUM', repetition_type: 'OPTIONAL' },
    ] });
    const cfg = makeConfig({ datasets: [
      dataset('exact', root, { columns: { spend: 'string', tier: 'string', dt: 'string' } }),
      dataset('inferred', root),
    ] });
    await load(cfg, 'exact');
    await load(cfg, 'inferred');
    const app = await serve(cfg);
    apps.push(app);
    expect(await values(app, 'exact', 'p1')).toEqual({ spend: '12345678901234567.89', tier: 'gold', dt: '2026-01-31' });
    expect(await values(app, 'exact', 'p2')).toEqual({ spend: '-0.05', tier: null, dt: '2026-01-31' });
    expect(await values(app, 'inferred', 'p2')).toEqual({ spend: -0.05, tier: null, dt: '2026-01-31' });
  });
});
