/**
 * Quality gates before publish: min_rows, max_rejected_fraction, max_row_drop_fraction,
 * max_null_fraction (per column) and schema compatibility with the served version. Each refusal
 * carries every failed gate with its numbers, is visible on the failed version over HTTP, and
 * `--force` publishes anyway while recording them. Real loads into a real redis-server.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KeyLayout } from '../src/keys.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { SnapshotStore } from '../src/store/snapshot-store.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, newRedis, type PlayerRow, redisUrl, serve, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { runMalt as malt } from './support/cli-runner.js';
import { roundMtime, spyDataReads } from './support/data-reads.js';



const apps = appsClosedAfterAll();

/** `n` players; the ltv of the first `ltvNulls` and the country of the first `countryNulls` are null. */
function players(n: number, ltvNulls = 0, countryNulls = 0): PlayerRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `p${i}`, ltv: i < ltvNulls ? null : i + 0.5, level: i, country: i < countryNulls ? null : 'DE', is_payer: true, last_login: null, tags: null,
  }));
}

/**
 * Overwrites a Parquet file's data pages (every byte between the leading magic and the footer)
 * keeping its size, footer and mtime: what a listing and a footer read see is unchanged, but a
 * load that read the rows would fail.
 */
/** Gives a file a whole-second mtime, which utimes restores exactly (a fractional one may come back 1 ms off). */


interface Gate { check: string; column: string | null; actual: number | string; limit: number | string; message: string }
interface VersionJson { version: string; state: string; current: boolean; error?: string; checks: Gate[] }

/** A dataset `name` under one key prefix; each call may point it at another file or change its declaration. */
function setup(name: string): { dir: string; cfg: (file: string, extra?: Record<string, unknown>) => ReturnType<typeof makeConfig>; prefix: string } {
  const dir = tmpDir();
  const prefix = uniquePrefix();
  return { dir, prefix, cfg: (file, extra = {}) => makeConfig({ datasets: [featuresDataset(name, file, extra)] }, { prefix }) };
}

async function httpVersions(cfg: ReturnType<typeof makeConfig>, name: string): Promise<{ current_version: string | null; versions: VersionJson[] }> {
  const app = await serve(cfg);
  apps.push(app);
  const res = await app.http.inject({ method: 'GET', url: `/v1/datasets/${name}/versions` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('quality gates', () => {
  it('min_rows refuses with its numbers, and the failed version shows them over HTTP', async () => {
    const { dir, cfg } = setup('g_min');
    const file = path.join(dir, 'a.parquet');
    writePlayers(file, players(3));
    const c = cfg(file, { checks: { min_rows: 5 } });
    const err = await load(c, 'g_min').catch((e) => e);
    expect(err.code).toBe('CHECK_FAILED');
    expect(err.message).toContain('3 rows loaded, fewer than checks.min_rows (5)');
    const body = await httpVersions(c, 'g_min');
    expect(body.current_version).toBeNull();
    expect(body.versions).toHaveLength(1);
    expect(body.versions[0]).toMatchObject({ version: '1', state: 'failed', current: false });
    expect(body.versions[0]!.error).toMatch(/^CHECK_FAILED: /);
    expect(body.versions[0]!.checks).toEqual([{ check: 'min_rows', column: null, actual: 3, limit: 5, message: '3 rows loaded, fewer than checks.min_rows (5)' }]);
  });

  it('max_rejected_fraction refuses with the fraction of rows rejected', async () => {
    const file = path.join(tmpDir(), 'a.parquet');
    // 1 of 4 keys is null: 25 % rejected.
    writeParquet(file, [
      { name: 'player_id', type: 'string', data: ['a', 'b', null, 'd'] },
      { name: 'ltv', type: 'double', data: [1, 2, 3, 4] },
    ]);
    const c = makeConfig({ datasets: [{ name: 'g_rej', source: { uri: file }, key: 'player_id', columns: { ltv: 'double' }, checks: { max_rejected_fraction: 0.2 } }] }, { prefix: uniquePrefix() });
    const err = await load(c, 'g_rej').catch((e) => e);
    expect(err.code).toBe('CHECK_FAILED');
    expect(err.message).toContain('1 of 4 rows rejected (25.00%), more than checks.max_rejected_fraction (0.2)');
    const [v] = (await httpVersions(c, 'g_rej')).versions;
    expect(v!.checks).toMatchObject([{ check: 'max_rejected_fraction', column: null, actual: 0.25, limit: 0.2 }]);
  });

  it('max_row_drop_fraction refuses a load that drops too many rows vs the served version', async () => {
    const { dir, cfg } = setup('g_drop');
    const big = path.join(dir, 'big.parquet');
    const small = path.join(dir, 'small.parquet');
    writePlayers(big, players(10));
    writePlayers(small, players(4));
    expect((await load(cfg(big, { checks: { max_row_drop_fraction: 0.5 } }), 'g_drop')).status).toBe('published');
    const c = cfg(small, { checks: { max_row_drop_fraction: 0.5 } });
    const err = await load(c, 'g_drop').catch((e) => e);
    expect(err.code).toBe('CHECK_FAILED');
    expect(err.message).toContain('4 rows vs 10 in the current version, a drop of 60.00%');
    const body = await httpVersions(c, 'g_drop');
    expect(body.current_version).toBe('1');
    expect(body.versions.map((v) => [v.version, v.state])).toEqual([['2', 'failed'], ['1', 'published']]);
    expect(body.versions[0]!.checks).toMatchObject([{ check: 'max_row_drop_fraction', column: null, limit: 0.5 }]);
    expect(body.versions[0]!.checks[0]!.actual).toBeCloseTo(0.6, 10);
    expect(body.versions[1]!.checks).toEqual([]);
  });

  it('max_null_fraction: one number for every column, or per column; a refusal names each column', async () => {
    const { dir, cfg } = setup('g_null');
    const file = path.join(dir, 'a.parquet');
    // 10 players: ltv null in 4 (40 %), country null in 2 (20 %); last_login and tags null in all.
    writePlayers(file, players(10, 4, 2));
    const cols = { ltv: 'double', country: 'string', level: 'int64' };
    const perColumn = await load(cfg(file, { columns: cols, checks: { max_null_fraction: { ltv: 0.3, country: 0.25 } } }), 'g_null').catch((e) => e);
    expect(perColumn.code).toBe('CHECK_FAILED');
    expect(perColumn.message).toContain('column "ltv": 4 of 10 values null (40.00%), more than checks.max_null_fraction (0.3)');
    expect(perColumn.message).not.toContain('"country"');

    const c = cfg(file, { columns: cols, checks: { max_null_fraction: 0.1 } });
    const everyColumn = await load(c, 'g_null').catch((e) => e);
    expect(everyColumn.code).toBe('CHECK_FAILED');
    const [v] = (await httpVersions(c, 'g_null')).versions;
    expect(v).toMatchObject({ version: '2', state: 'failed' });
    expect(v!.checks.map((g) => [g.check, g.column, g.actual, g.limit])).toEqual([
      ['max_null_fraction', 'ltv', 0.4, 0.1],
      ['max_null_fraction', 'country', 0.2, 0.1],
    ]);
    // A limit at the measured fraction passes (the gate is "more than").
    expect((await load(cfg(file, { columns: cols, checks: { max_null_fraction: { ltv: 0.4, country: 0.2 } } }), 'g_null')).status).toBe('published');
  });

  it('a max_null_fraction entry for a column the load does not serve is refused, naming it', async () => {
    const { dir, cfg } = setup('g_nullcol');
    const file = path.join(dir, 'a.parquet');
    writePlayers(file, players(3));
    const err = await load(cfg(file, { columns: { ltv: 'double' }, checks: { max_null_fraction: { lvt: 0.1 } } }), 'g_nullcol').catch((e) => e);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toContain('"lvt"');
  });

  it('several gates failing at once are all listed, in the error and on the version', async () => {
    const { dir, cfg } = setup('g_many');
    const big = path.join(dir, 'big.parquet');
    const small = path.join(dir, 'small.parquet');
    writePlayers(big, players(10));
    writePlayers(small, players(3, 3));
    const checks = { min_rows: 5, max_row_drop_fraction: 0.2, max_null_fraction: { ltv: 0.5 } };
    expect((await load(cfg(big, { checks }), 'g_many')).version).toBe(1);
    const c = cfg(small, { checks });
    const err = await load(c, 'g_many').catch((e) => e);
    expect(err.code).toBe('CHECK_FAILED');
    expect(err.message).toContain('refused by 3 checks');
    for (const k of ['checks.min_rows', 'checks.max_row_drop_fraction', 'checks.max_null_fraction']) expect(err.message).toContain(k);
    const [v] = (await httpVersions(c, 'g_many')).versions;
    expect(v!.checks.map((g) => [g.check, g.column, g.actual, g.limit])).toEqual([
      ['min_rows', null, 3, 5],
      ['max_row_drop_fraction', null, 0.7, 0.2],
      ['max_null_fraction', 'ltv', 1, 0.5],
    ]);
  });

  it('--force publishes despite failed gates and records them on the published version', async () => {
    const { dir, cfg } = setup('g_force');
    const file = path.join(dir, 'a.parquet');
    writePlayers(file, players(3, 2));
    const c = cfg(file, { columns: { ltv: 'double', level: 'int64', country: 'string' }, checks: { min_rows: 5, max_null_fraction: 0.5 } });
    expect((await load(c, 'g_force').catch((e) => e)).code).toBe('CHECK_FAILED');
    const report = await load(c, 'g_force', true);
    expect(report).toMatchObject({ status: 'published', version: 2, rows: 3 });
    expect(report.checks.map((g) => g.check)).toEqual(['min_rows', 'max_null_fraction']);
    const body = await httpVersions(c, 'g_force');
    expect(body.current_version).toBe('2');
    // The refused version 1 stayed visible until this successful load, which reclaimed it.
    expect(body.versions.map((v) => [v.version, v.state])).toEqual([['2', 'published']]);
    expect(body.versions[0]!.checks.map((g) => [g.check, g.column, g.limit])).toEqual([['min_rows', null, 5], ['max_null_fraction', 'ltv', 0.5]]);
    const res = await apps.at(-1)!.http.inject({ method: 'GET', url: '/v1/entities/p2?datasets=g_force' });
    expect(res.json().datasets[0]).toMatchObject({ version: '2', found: true });
  });

  it('on the command line: a refusal exits 3 naming each gate, `malt versions` shows them, --force says what it overrode', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'a.parquet');
    writePlayers(file, players(3, 3));
    const cfgFile = path.join(dir, 'malt.yaml');
    writeFileSync(cfgFile, stringify({ datasets: [featuresDataset('g_cli', file, { columns: { ltv: 'double' }, checks: { min_rows: 5, max_null_fraction: 0.5 } })] }));
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: uniquePrefix() };
    const refused = await malt(['load', '-c', cfgFile], env);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toContain('error CHECK_FAILED');
    expect(refused.stderr).toContain('refused by 2 checks: 3 rows loaded, fewer than checks.min_rows (5); column "ltv": 3 of 3 values null (100.00%)');
    const listed = await malt(['versions', 'g_cli', '-c', cfgFile], env);
    expect(listed.stdout).toMatch(/1\s+failed/);
    expect(listed.stdout).toContain('failed check min_rows: 3 vs limit 5');
    expect(listed.stdout).toContain('failed check max_null_fraction (ltv): 1 vs limit 0.5');
    const forced = await malt(['load', '--force', '-c', cfgFile], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('published version 2');
    expect(forced.stdout).toContain('check overridden by --force: min_rows');
    expect(forced.stdout).toContain('check overridden by --force: max_null_fraction (ltv)');
    expect((await malt(['versions', 'g_cli', '-c', cfgFile], env)).stdout).toContain('overridden check min_rows: 3 vs limit 5');
  });

  it('a refused source is refused again without reading a data file until it, the declaration or the served version changes', async () => {
    const { dir, cfg, prefix } = setup('g_again');
    const good = path.join(dir, 'good.parquet');
    const small = path.join(dir, 'lake', 'small.parquet');
    writePlayers(good, players(10));
    writePlayers(small, players(3));
    roundMtime(small);
    const refusing = cfg(path.dirname(small), { checks: { min_rows: 5 } });
    expect((await load(refusing, 'g_again').catch((e) => e)).code).toBe('CHECK_FAILED');
    // Unchanged listing: refused again from the recorded refusal, without opening a data file.
    const reads = spyDataReads();
    const again = await load(refusing, 'g_again').catch((e) => e);
    expect(again.code).toBe('CHECK_FAILED');
    expect(again.message).toContain('3 rows loaded, fewer than checks.min_rows (5)');
    expect(again.message).toContain('unchanged since version 1 was refused; no data was read');
    expect(reads.calls()).toBe(0);
    const redis = newRedis(refusing);
    const store = new SnapshotStore(redis, new KeyLayout(prefix));
    expect((await store.listVersions('g_again')).map((v) => [v.id, v.state])).toEqual([[1, 'failed']]);
    // --force reads the rows and publishes despite the gate.
    expect(await load(refusing, 'g_again', true)).toMatchObject({ status: 'published', version: 2, rows: 3 });
    expect(reads.calls()).toBeGreaterThan(0);
    reads.restore();
    // A changed declaration is loaded (a limit it meets).
    expect(await load(cfg(path.dirname(small), { checks: { min_rows: 3 } }), 'g_again')).toMatchObject({ status: 'published', version: 3 });
    // A newly served version makes the refused declaration worth checking again: refused anew, as version 4.
    const err = await load(refusing, 'g_again').catch((e) => e);
    expect(err.code).toBe('CHECK_FAILED');
    expect(err.message).not.toContain('unchanged since');
    expect((await store.listVersions('g_again')).filter((v) => v.id !== 2).map((v) => [v.id, v.state])).toEqual([[4, 'failed'], [3, 'published']]);
    expect((await load(refusing, 'g_again').catch((e) => e)).message).toContain('unchanged since version 4 was refused');
    redis.disconnect();
  });

  it('schema: a served column that disappears or changes type is refused before any row is written, unless allowed', async () => {
    const { dir, cfg, prefix } = setup('g_schema');
    const file = path.join(dir, 'a.parquet');
    writePlayers(file, players(4));
    expect((await load(cfg(file, { columns: { ltv: 'double', level: 'int64', country: 'string' } }), 'g_schema')).version).toBe(1);

    // level int64 → double, country dropped.
    const changed = cfg(file, { columns: { ltv: 'double', level: 'double' } });
    const err = await load(changed, 'g_schema').catch((e) => e);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toContain('served column "level" changes type from int64 to double');
    expect(err.message).toContain('served column "country" (string) is missing from the new version');
    expect(err.message).toContain('checks.allow_schema_change');
    const redis = newRedis(changed);
    const keys = new KeyLayout(prefix);
    const store = new SnapshotStore(redis, keys);
    const failed = await store.manifest('g_schema', 2);
    expect(failed?.state).toBe('failed');
    expect(failed?.checks.map((g) => [g.check, g.column, g.actual, g.limit])).toEqual([['schema', 'level', 'double', 'int64'], ['schema', 'country', 'missing', 'string']]);
    // Refused before writing: no row of version 2 in Redis.
    for (let b = 0; b < (failed?.buckets ?? 0); b++) expect(await redis.exists(keys.bucket('g_schema', 2, b))).toBe(0);
    expect((await httpVersions(changed, 'g_schema')).versions[0]).toMatchObject({ version: '2', state: 'failed', checks: [{ check: 'schema', column: 'level' }, { check: 'schema', column: 'country' }] });

    // Adding a column is compatible; allow_schema_change lets the drop and the type change through.
    expect((await load(cfg(file, { columns: { ltv: 'double', level: 'int64', country: 'string', is_payer: 'bool' } }), 'g_schema')).version).toBe(3);
    const allowed = await load(cfg(file, { columns: { ltv: 'double', level: 'double' }, checks: { allow_schema_change: true } }), 'g_schema');
    expect(allowed).toMatchObject({ status: 'published', version: 4, checks: [] });
    expect((await store.manifest('g_schema', 4))?.columns).toEqual([{ name: 'ltv', type: 'double' }, { name: 'level', type: 'double' }]);
    redis.disconnect();
  });

  it('a refused version stays listed through further refusals (its data keys deleted) until the next successful load', async () => {
    const { dir, cfg, prefix } = setup('g_keep');
    const good = path.join(dir, 'good.parquet');
    writePlayers(good, players(300));
    const checks = { min_rows: 250 };
    expect((await load(cfg(good, { checks, keep_versions: 2 }), 'g_keep')).version).toBe(1);
    // Three refused snapshots (three different files).
    let c = cfg(good);
    for (let i = 0; i < 3; i++) {
      const small = path.join(dir, `small-${i}.parquet`);
      writePlayers(small, players(200));
      c = cfg(small, { checks, keep_versions: 2 });
      expect((await load(c, 'g_keep').catch((e) => e)).code).toBe('CHECK_FAILED');
    }
    const redis = newRedis(c);
    const keys = new KeyLayout(prefix);
    const store = new SnapshotStore(redis, keys);
    // Versions 2, 3, 4 were refused; the newest keep_versions (2) of them stay listed.
    expect((await store.listVersions('g_keep')).map((v) => [v.id, v.state])).toEqual([[4, 'failed'], [3, 'failed'], [1, 'published']]);
    // The latest refusal still holds its rows until the next load; the older one only its manifest.
    expect(await redis.exists(keys.bucket('g_keep', 4, 0))).toBe(1);
    expect(await redis.exists(keys.bucket('g_keep', 3, 0))).toBe(0);
    expect((await store.manifest('g_keep', 3))?.checks.map((g) => [g.check, g.actual, g.limit])).toEqual([['min_rows', 200, 250]]);
    const next = await load(cfg(good, { checks, keep_versions: 2 }), 'g_keep', true);
    expect(next).toMatchObject({ status: 'published', version: 5 });
    expect(next.reclaimed).toContain(4);
    expect((await store.listVersions('g_keep')).map((v) => [v.id, v.state])).toEqual([[5, 'published'], [1, 'published']]);
    expect(await redis.exists(keys.bucket('g_keep', 4, 0))).toBe(0);
    redis.disconnect();
  });
});
