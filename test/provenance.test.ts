/**
 * Version provenance: every version records its source snapshot (source_version: the Delta
 * version, null for plain Parquet; source_as_of: RFC 3339), shown by GET /v1/datasets,
 * GET /v1/datasets/:name/versions and `malt versions` (text and --json); and a load whose
 * snapshot and declaration equal the served version's is skipped without reading a data file.
 */
import { cpSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KeyLayout } from '../src/keys.js';
import { manifestJson } from '../src/model/version-json.js';
import { SnapshotStore } from '../src/store/snapshot-store.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, newRedis, type PlayerRow, redisUrl, serve, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { runMalt as malt } from './support/cli-runner.js';
import { roundMtime, spyDataReads } from './support/data-reads.js';

const apps = appsClosedAfterAll();
const here = path.dirname(fileURLToPath(import.meta.url));
const DELTA_SPARK = path.resolve(here, '../../shared/testdata/delta-spark');
/** Spark table: v0 writes 100 rows (commitInfo.timestamp 1697587748016), v1 UPDATEs 50 of them (1697587762295). */
const UPDATES_TABLE = path.join(DELTA_SPARK, 'basic-with-inserts-updates');
const V0_AS_OF = new Date(1697587748016).toISOString();
const V1_AS_OF = new Date(1697587762295).toISOString();

const rows = (n: number): PlayerRow[] => Array.from({ length: n }, (_, i) => ({ id: `p${i}`, ltv: i, level: 1, country: 'US', is_payer: true, last_login: null, tags: null }));


function deltaDataset(name: string, uri: string, source: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, kind: 'features', source: { format: 'delta', uri, ...source }, key: 'id', columns: { str: 'string' } };
}

/** Overwrites a file with bytes that are not Parquet, keeping its size and mtime (what a listing sees). */
function scrambleKeepingListing(file: string): void {
  const st = statSync(file);
  writeFileSync(file, Buffer.alloc(st.size, 0x5a));
  utimesSync(file, st.atime, st.mtime);
}

/**
 * Overwrites a Parquet file's data pages (every byte between the leading magic and the footer)
 * keeping its size, footer and mtime: what a listing and a footer read see is unchanged, but a
 * load that read the rows would fail.
 */
/** Gives a file a whole-second mtime, which utimes restores exactly (a fractional one may come back 1 ms off). */


function scrambleDataPages(file: string): void {
  const st = statSync(file);
  const bytes = readFileSync(file);
  const footerLength = bytes.readUInt32LE(bytes.length - 8);
  bytes.fill(0x5a, 4, bytes.length - 8 - footerLength);
  writeFileSync(file, bytes);
  utimesSync(file, st.atime, st.mtime);
}

async function getJson(cfg: ReturnType<typeof makeConfig>, url: string): Promise<any> {
  const app = await serve(cfg);
  apps.push(app);
  const res = await app.http.inject({ method: 'GET', url });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('source provenance on every version', () => {
  it('plain Parquet: source_version null and source_as_of the newest file mtime, over HTTP and `malt versions` (--json and text)', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'lake');
    writePlayers(path.join(lake, 'a.parquet'), rows(2));
    writePlayers(path.join(lake, 'b.parquet'), rows(3));
    const older = new Date('2026-11-29T08:00:00.000Z');
    const newest = new Date('2026-11-30T10:15:30.250Z');
    utimesSync(path.join(lake, 'a.parquet'), older, older);
    utimesSync(path.join(lake, 'b.parquet'), newest, newest);
    const prefix = uniquePrefix();
    const doc = { datasets: [featuresDataset('pv_pq', lake)] };
    const cfg = makeConfig(doc, { prefix });
    const report = await load(cfg, 'pv_pq');
    expect(report).toMatchObject({ status: 'published', sourceVersion: null, sourceAsOf: newest.toISOString() });

    const list = await getJson(cfg, '/v1/datasets');
    expect(list.datasets[0]).toMatchObject({ name: 'pv_pq', current_version: '1', source_format: 'parquet', source_version: null, source_as_of: newest.toISOString() });
    const versions = await getJson(cfg, '/v1/datasets/pv_pq/versions');
    expect(versions.versions[0]).toMatchObject({ version: '1', state: 'published', source_format: 'parquet', source_version: null, source_as_of: newest.toISOString(), checks: [] });
    expect(versions.versions[0].source_snapshot_id).toMatch(/^[0-9a-f]{64}$/);

    const file = path.join(dir, 'malt.yaml');
    writeFileSync(file, stringify(doc));
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix };
    const json = await malt(['versions', 'pv_pq', '--json', '-c', file], env);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.versions[0]).toMatchObject({ version: '1', source_version: null, source_as_of: newest.toISOString() });
    expect(parsed.versions[0]).toEqual(versions.versions[0]);
    const text = await malt(['versions', 'pv_pq', '-c', file], env);
    expect(text.stdout).toMatch(/source_version\s+source_as_of/);
    expect(text.stdout).toMatch(new RegExp(`\\*\\s+1\\s+published.*\\s-\\s+${newest.toISOString().replace(/\./g, '\\.')}`));
  });

  it('Delta: source_version is the table version and source_as_of its commit time; time travel records the version read', async () => {
    const prefix = uniquePrefix();
    const latest = makeConfig({ datasets: [deltaDataset('pv_delta', UPDATES_TABLE)] }, { prefix });
    const report = await load(latest, 'pv_delta');
    expect(report).toMatchObject({ status: 'published', version: 1, rows: 100, sourceVersion: '1', sourceAsOf: V1_AS_OF });
    const list = await getJson(latest, '/v1/datasets');
    expect(list.datasets[0]).toMatchObject({ current_version: '1', source_format: 'delta', source_version: '1', source_as_of: V1_AS_OF });

    const v0 = makeConfig({ datasets: [deltaDataset('pv_delta', UPDATES_TABLE, { version: 0 })] }, { prefix });
    expect(await load(v0, 'pv_delta')).toMatchObject({ status: 'published', version: 2, sourceVersion: '0', sourceAsOf: V0_AS_OF });
    const versions = await getJson(v0, '/v1/datasets/pv_delta/versions');
    expect(versions.versions.map((v: any) => [v.version, v.source_format, v.source_version, v.source_as_of])).toEqual([
      ['2', 'delta', '0', V0_AS_OF],
      ['1', 'delta', '1', V1_AS_OF],
    ]);
    // v0 holds the pre-UPDATE values: the snapshot recorded is the one served.
    const app = apps.at(-1)!;
    const res = await app.http.inject({ method: 'GET', url: '/v1/entities/3?datasets=pv_delta' });
    expect(res.json().datasets[0]).toMatchObject({ version: '2', found: true, features: { str: { value: 'val=3', status: 'PRESENT' } } });
  });

  it('the manifest round-trips a Delta snapshot\'s provenance through Redis', async () => {
    const cfg = makeConfig({ datasets: [deltaDataset('rt', UPDATES_TABLE)] });
    const redis = newRedis(cfg);
    const store = new SnapshotStore(redis, new KeyLayout(cfg.redis.keyPrefix));
    const id = await store.createVersion('rt', {
      kind: 'features', buckets: 1, columns: [{ name: 'str', type: 'string' }], fingerprint: 'sha256:x', sourceFiles: 2, sourceBytes: 10,
      snapshotId: 'delta:tbl:42', sourceVersion: '42', sourceAsOf: '2026-12-01T00:00:00.000Z', sourceFormat: 'delta',
    });
    const m = await store.manifest('rt', id);
    expect(m).toMatchObject({ snapshotId: 'delta:tbl:42', sourceVersion: '42', sourceAsOf: '2026-12-01T00:00:00.000Z', sourceFormat: 'delta', checks: [] });
    expect(manifestJson(m!, null)).toMatchObject({ source_format: 'delta', source_version: '42', source_as_of: '2026-12-01T00:00:00.000Z', source_snapshot_id: 'delta:tbl:42' });
    redis.disconnect();
  });
});

describe('skip by source snapshot', () => {
  it('Parquet: an unchanged listing is skipped without reading a data file; a changed declaration reloads', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'lake', 'a.parquet');
    writePlayers(file, rows(5));
    roundMtime(file);
    const prefix = uniquePrefix();
    const cfg = makeConfig({ datasets: [featuresDataset('sk_pq', path.dirname(file))] }, { prefix });
    const first = await load(cfg, 'sk_pq');
    expect(first.status).toBe('published');
    // Same listing: skipped without opening a data file.
    const reads = spyDataReads();
    const again = await load(cfg, 'sk_pq');
    expect(again).toMatchObject({ status: 'skipped', skipReason: 'unchanged', version: 1, rowsRead: 0, fingerprint: first.fingerprint, sourceVersion: null, sourceAsOf: first.sourceAsOf });
    expect(reads.calls()).toBe(0);
    reads.restore();
    // An in-place rewrite that keeps size and mtime still changes the listing (inode/ctime identity):
    // the next load reads the file (and here fails on its scrambled data pages).
    scrambleDataPages(file);
    const err = await load(cfg, 'sk_pq').catch((e) => e);
    expect(err.code).toBe('SOURCE_UNREADABLE');
    expect(err.message).toContain('a.parquet: row group at rows 0–5 could not be decoded');
    // The same snapshot under another declaration is loaded too.
    writePlayers(file, rows(5));
    expect(await load(cfg, 'sk_pq')).toMatchObject({ status: 'published' });
    const changed = makeConfig({ datasets: [featuresDataset('sk_pq', path.dirname(file), { keep_versions: 4 })] }, { prefix });
    expect(await load(changed, 'sk_pq')).toMatchObject({ status: 'published' });
  });

  it('Delta: the same table version is skipped without reading a data file; a new version is loaded', async () => {
    const table = path.join(tmpDir(), 'tbl');
    cpSync(UPDATES_TABLE, table, { recursive: true, preserveTimestamps: true });
    const prefix = uniquePrefix();
    const v0 = makeConfig({ datasets: [deltaDataset('sk_delta', table, { version: 0 })] }, { prefix });
    expect(await load(v0, 'sk_delta')).toMatchObject({ status: 'published', version: 1, sourceVersion: '0' });
    expect(await load(v0, 'sk_delta')).toMatchObject({ status: 'skipped', skipReason: 'unchanged', version: 1, sourceVersion: '0' });
    const latest = makeConfig({ datasets: [deltaDataset('sk_delta', table)] }, { prefix });
    expect(await load(latest, 'sk_delta')).toMatchObject({ status: 'published', version: 2, sourceVersion: '1' });
    for (const f of readdirSync(table)) if (f.endsWith('.parquet')) scrambleKeepingListing(path.join(table, f));
    expect(await load(latest, 'sk_delta')).toMatchObject({ status: 'skipped', skipReason: 'unchanged', version: 2, rowsRead: 0, sourceVersion: '1', sourceAsOf: V1_AS_OF });
    // Forced, the scrambled data files are read and refused: the skip above read none of them.
    const err = await load(latest, 'sk_delta', true).catch((e) => e);
    expect(err.code).toBe('SOURCE_UNREADABLE');
    expect(err.message).toContain('is not a readable Parquet file');
  });
});
