import { copyFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { resolveSource, sourceFingerprint } from '../src/sources/resolve-source.js';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { KeyLayout } from '../src/keys.js';
import { parquetWriteFile } from 'hyparquet-writer';
import { SnapshotStore } from '../src/store/snapshot-store.js';
import { featuresDataset, load, makeConfig, newRedis, type PlayerRow, serve, tmpDir, writePlayers, appsClosedAfterAll } from './support/fixtures.js';

const apps = appsClosedAfterAll();

const ROWS: PlayerRow[] = [
  { id: 'p1', ltv: 12.5, level: 9007199254740993n, country: 'DE', is_payer: true, last_login: new Date('2026-10-01T12:34:56.789Z'), tags: ['pvp', 'guild_leader'] },
  { id: 'p2', ltv: null, level: 3, country: null, is_payer: false, last_login: null, tags: [] },
  { id: 'p3', ltv: -0.25, level: null, country: 'Ünïcode ✓', is_payer: null, last_login: new Date(0), tags: null },
];

async function entity(app: ServingApp, id: string, datasets = ''): Promise<any> {
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${encodeURIComponent(id)}${datasets ? `?datasets=${datasets}` : ''}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('loading Parquet into a snapshot version', () => {
  it('serves exactly the Parquet values for every column type, with nulls and defaults', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'pf', 'a.parquet'), ROWS);
    const cfg = makeConfig({ datasets: [featuresDataset('pf', path.join(dir, 'pf'), { defaults: { ltv: 0, tags: ['none'] } })] });
    const report = await load(cfg, 'pf');
    expect(report).toMatchObject({ status: 'published', version: 1, rows: 3, rejected: 0, duplicates: 0, files: 1 });
    const app = await serve(cfg);
    apps.push(app);

    const p1 = (await entity(app, 'p1')).datasets[0];
    expect(p1).toMatchObject({ dataset: 'pf', version: '1', found: true });
    expect(p1.features).toEqual({
      ltv: { value: 12.5, status: 'PRESENT' },
      level: { value: '9007199254740993', status: 'PRESENT' },
      country: { value: 'DE', status: 'PRESENT' },
      is_payer: { value: true, status: 'PRESENT' },
      last_login: { value: '2026-10-01T12:34:56.789Z', status: 'PRESENT' },
      tags: { value: ['pvp', 'guild_leader'], status: 'PRESENT' },
    });
    const p2 = (await entity(app, 'p2')).datasets[0].features;
    expect(p2.ltv).toEqual({ value: 0, status: 'DEFAULTED' });
    expect(p2.level).toEqual({ value: '3', status: 'PRESENT' });
    expect(p2.country).toEqual({ value: null, status: 'NULL_VALUE' });
    expect(p2.is_payer).toEqual({ value: false, status: 'PRESENT' });
    expect(p2.last_login).toEqual({ value: null, status: 'NULL_VALUE' });
    expect(p2.tags).toEqual({ value: [], status: 'PRESENT' });
    const p3 = (await entity(app, 'p3')).datasets[0].features;
    expect(p3.ltv).toEqual({ value: -0.25, status: 'PRESENT' });
    expect(p3.country).toEqual({ value: 'Ünïcode ✓', status: 'PRESENT' });
    expect(p3.last_login).toEqual({ value: '1970-01-01T00:00:00.000Z', status: 'PRESENT' });
    expect(p3.tags).toEqual({ value: ['none'], status: 'DEFAULTED' });
    const missing = (await entity(app, 'nobody')).datasets[0];
    expect(missing.found).toBe(false);
    expect(missing.features.ltv).toEqual({ value: 0, status: 'DEFAULTED' });
    expect(missing.features.level).toEqual({ value: null, status: 'NOT_FOUND' });
  });

  it('serves integer keys as strings and infers columns when none are declared', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'ik.parquet'), ROWS.map((r, i) => ({ ...r, id: 1000 + i })));
    const cfg = makeConfig({ datasets: [{ name: 'ik', source: { format: 'parquet', uri: path.join(dir, 'ik.parquet') }, key: 'player_id' }] });
    expect(await load(cfg, 'ik')).toMatchObject({ status: 'published', rows: 3 });
    const app = await serve(cfg);
    apps.push(app);
    const r = (await entity(app, '1000')).datasets[0];
    expect(r.found).toBe(true);
    expect(Object.keys(r.features)).toEqual(['ltv', 'level', 'country', 'is_payer', 'last_login', 'tags']);
    expect(r.features.level.value).toBe('9007199254740993');
    expect(r.features.last_login.value).toBe('2026-10-01T12:34:56.789Z');
  });

  it('reads a directory of files (in path order) and a glob, counts duplicates (last wins) and rejects bad keys', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 't', 'a', 'part-0.parquet'), [ROWS[0]!, { ...ROWS[1]!, id: '' }]);
    writePlayers(path.join(dir, 't', 'b', 'part-1.parquet'), [{ ...ROWS[0]!, ltv: 99 }, { ...ROWS[2]!, id: 'bad\u0001id' }, ROWS[1]!]);
    writeFileSync(path.join(dir, 't', '_SUCCESS'), '');
    const cfg = makeConfig({ datasets: [
      featuresDataset('dirsrc', path.join(dir, 't'), { checks: { max_rejected_fraction: 0.5 } }),
      featuresDataset('globsrc', path.join(dir, 't', '**', 'part-1.parquet')),
    ] });
    const r = await load(cfg, 'dirsrc');
    expect(r).toMatchObject({ files: 2, rowsRead: 5, rows: 2, duplicates: 1, rejected: 2, rejectedReasons: { empty_key: 1, invalid_key: 1 } });
    const g = await load(cfg, 'globsrc').catch((e) => e);
    // 1 of 3 rows rejected is above the default max_rejected_fraction (1%): refused.
    expect(g.code).toBe('CHECK_FAILED');
    const app = await serve(cfg);
    apps.push(app);
    expect((await entity(app, 'p1', 'dirsrc')).datasets[0].features.ltv.value).toBe(99);
  });

  it('refuses timestamps outside RFC 3339 (e.g. INT64_MAX "never" sentinels) per value: null, counted, the row kept', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'ts.parquet');
    // The sentinel written as a raw TIMESTAMP_MICROS value.
    parquetWriteFile({ filename: file, columnData: [
      { name: 'player_id', data: ['ok', 'never'] },
      { name: 'seen', data: [1_700_000_000_000_000n, 9_223_372_036_854_775_807n] },
    ] as never, schema: [
      { name: 'root', num_children: 2 },
      { name: 'player_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'seen', type: 'INT64', converted_type: 'TIMESTAMP_MICROS', repetition_type: 'OPTIONAL' },
    ] });
    const cfg = makeConfig({ datasets: [{ name: 'ts', source: { format: 'parquet', uri: file }, key: 'player_id', checks: { max_rejected_fraction: 0.5 } }] });
    expect(await load(cfg, 'ts')).toMatchObject({ rows: 2, rejected: 0 });
    const app = await serve(cfg);
    apps.push(app);
    expect((await entity(app, 'ok')).datasets[0].features.seen).toEqual({ value: '2023-11-14T22:13:20.000Z', status: 'PRESENT' });
    expect((await entity(app, 'never')).datasets[0].features.seen).toEqual({ value: null, status: 'NULL_VALUE' });
    const versions = await app.http.inject({ method: 'GET', url: '/v1/datasets/ts/versions' });
    expect(JSON.stringify(versions.json())).toContain('"value_rejects":{"seen":{"timestamp_out_of_range":1}}');
  });

  it('skips an unchanged source unless forced, and reloads when the file changes', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 's.parquet');
    writePlayers(file, ROWS);
    const cfg = makeConfig({ datasets: [featuresDataset('skip', file)] });
    expect((await load(cfg, 'skip')).status).toBe('published');
    const again = await load(cfg, 'skip');
    expect(again).toMatchObject({ status: 'skipped', version: 1 });
    expect(await load(cfg, 'skip', true)).toMatchObject({ status: 'published', version: 2, previousVersion: 1 });
    writePlayers(file, ROWS.slice(0, 2));
    expect(await load(cfg, 'skip')).toMatchObject({ status: 'published', version: 3, rows: 2 });
  });

  it('tells apart a same-size rewrite with the same mtime, from the listing alone (local files: inode + ns mtime/ctime)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'same.parquet');
    const cfg = makeConfig({ datasets: [featuresDataset('same', file)] });
    writePlayers(file, [{ ...ROWS[0]!, ltv: 1 }]);
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const before = await resolveSource(cfg, cfg.datasets[0]!);
    const fpBefore = await sourceFingerprint(before, {});
    writePlayers(file, [{ ...ROWS[0]!, ltv: -999 }]);
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const after = await resolveSource(cfg, cfg.datasets[0]!);
    expect(after.files[0]!.size).toBe(before.files[0]!.size);
    expect(after.snapshotId).not.toBe(before.snapshotId);
    expect(await sourceFingerprint(after, {})).not.toBe(fpBefore);
  });

  it('records the load report on the version: fingerprint, rows, rejects, duplicates, timings', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'r.parquet'), [...ROWS, ROWS[0]!]);
    const cfg = makeConfig({ datasets: [featuresDataset('rep', path.join(dir, 'r.parquet'))] });
    const report = await load(cfg, 'rep');
    const redis = newRedis(cfg);
    const m = await new SnapshotStore(redis, new KeyLayout(cfg.redis.keyPrefix)).manifest('rep', report.version);
    redis.disconnect();
    expect(m).toMatchObject({ id: 1, state: 'published', rows: 3, duplicates: 1, rejected: 0, sourceFiles: 1, fingerprint: report.fingerprint });
    expect(m!.fingerprint).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(Date.parse(m!.loadedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(m!.durationMs).toBeGreaterThanOrEqual(0);
    expect(m!.columns.map((c) => c.name)).toEqual(['ltv', 'level', 'country', 'is_payer', 'last_login', 'tags']);
  });
});

describe('refused loads leave the served version untouched', () => {
  async function servedSetup(name: string): Promise<{ cfgFor: (uri: string, extra?: Record<string, unknown>) => ReturnType<typeof makeConfig>; dir: string; prefix: string; good: string }> {
    const dir = tmpDir();
    const good = path.join(dir, 'good.parquet');
    writePlayers(good, ROWS);
    const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
    const cfgFor = (uri: string, extra: Record<string, unknown> = {}) => makeConfig({ datasets: [featuresDataset(name, uri, extra)] }, { prefix });
    expect((await load(cfgFor(good), name)).version).toBe(1);
    return { cfgFor, dir, prefix, good };
  }

  async function expectStillServingV1(cfg: ReturnType<typeof makeConfig>, name: string): Promise<void> {
    const app = await serve(cfg);
    apps.push(app);
    const r = (await entity(app, 'p1', name)).datasets[0];
    expect(r.version).toBe('1');
    expect(r.features.ltv.value).toBe(12.5);
  }

  it('a declared column missing from the file: SCHEMA_MISMATCH naming column and file', async () => {
    const { cfgFor, good } = await servedSetup('sm1');
    const cfg = cfgFor(good, { columns: { ltv: 'double', lifetime_spend: 'double' } });
    const err = await load(cfg, 'sm1', true).catch((e) => e);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toContain('"lifetime_spend"');
    expect(err.message).toContain(good);
    await expectStillServingV1(cfg, 'sm1');
  });

  it('a column of an unconvertible type: SCHEMA_MISMATCH naming both types', async () => {
    const { cfgFor, good } = await servedSetup('sm2');
    const cfg = cfgFor(good, { columns: { country: 'int64' } });
    const err = await load(cfg, 'sm2', true).catch((e) => e);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toMatch(/column "country" in .*good\.parquet is BYTE_ARRAY\/UTF8, which cannot be converted to int64/);
    await expectStillServingV1(cfg, 'sm2');
  });

  it('a corrupt file: SOURCE_UNREADABLE', async () => {
    const { cfgFor, dir, good } = await servedSetup('bad');
    const src = path.join(dir, 'src');
    writePlayers(path.join(src, 'a.parquet'), ROWS);
    copyFileSync(good, path.join(src, 'a.parquet'));
    writeFileSync(path.join(src, 'b.parquet'), Buffer.from('PAR1 this is not parquet at all PAR1'));
    const cfg = cfgFor(src);
    const err = await load(cfg, 'bad').catch((e) => e);
    expect(err.code).toBe('SOURCE_UNREADABLE');
    expect(err.message).toContain('b.parquet');
    await expectStillServingV1(cfg, 'bad');
  });

  it('a Delta Lake table directory is refused, not read as loose Parquet files', async () => {
    const { cfgFor, dir } = await servedSetup('delta');
    const table = path.join(dir, 'delta_table');
    writePlayers(path.join(table, 'part-0.parquet'), ROWS);
    mkdirSync(path.join(table, '_delta_log'));
    const err = await load(cfgFor(table), 'delta').catch((e) => e);
    expect(err.code).toBe('SOURCE_UNREADABLE');
    expect(err.message).toContain('Delta Lake');
    await expectStillServingV1(cfgFor(table), 'delta');
  });

  it('a missing source: SOURCE_NOT_FOUND', async () => {
    const { cfgFor, dir } = await servedSetup('gone');
    const cfg = cfgFor(path.join(dir, 'nothing-here'));
    expect((await load(cfg, 'gone').catch((e) => e)).code).toBe('SOURCE_NOT_FOUND');
    await expectStillServingV1(cfg, 'gone');
  });

  it('a failed check (too few rows, too big a drop): CHECK_FAILED, partial data reclaimed by the next load', async () => {
    const { cfgFor, dir, prefix } = await servedSetup('chk');
    const small = path.join(dir, 'small.parquet');
    writePlayers(small, ROWS.slice(0, 1));
    const cfg = cfgFor(small, { checks: { max_row_drop_fraction: 0.5 } });
    const err = await load(cfg, 'chk').catch((e) => e);
    expect(err.code).toBe('CHECK_FAILED');
    expect(err.message).toMatch(/max_row_drop_fraction/);
    const redis = newRedis(cfg);
    const keys = new KeyLayout(prefix);
    const store = new SnapshotStore(redis, keys);
    expect((await store.manifest('chk', 2))?.state).toBe('failed');
    expect(await redis.exists(keys.bucket('chk', 2, 0))).toBe(1);
    await expectStillServingV1(cfg, 'chk');
    // The next load reclaims version 2's partial data.
    expect(await load(cfgFor(path.join(dir, 'good.parquet')), 'chk', true)).toMatchObject({ version: 3 });
    expect(await redis.exists(keys.bucket('chk', 2, 0))).toBe(0);
    expect(await store.manifest('chk', 2)).toBeNull();
    redis.disconnect();
  });
});
