import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyLayout } from '../src/keys.js';
import { SnapshotStore } from '../src/store/snapshot-store.js';
import { callScript } from '../src/store/lua-scripts.js';
import { Redis } from 'ioredis';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers, type PlayerRow, appsClosedAfterAll, ownRedis } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();

const row = (id: string, ltv: number): PlayerRow => ({ id, ltv, level: 1, country: 'US', is_payer: true, last_login: null, tags: null });

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function commandCalls(client: Redis, cmd: string): Promise<number> {
  const info = await client.info('commandstats');
  const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info);
  return m ? Number(m[1]) : 0;
}

describe('versions, rollback and reclaim', () => {
  it('rolls back instantly to the previous version or a named one, over CLI-level API and HTTP', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'v.parquet');
    const cfg = makeConfig({ datasets: [featuresDataset('rb', file, { keep_versions: 3 })] }, { url: redis.url });
    writePlayers(file, [row('a', 1)]);
    await load(cfg, 'rb');
    writePlayers(file, [row('a', 2), row('b', 2)]);
    await load(cfg, 'rb');
    const app = await serve(cfg);
    apps.push(app);
    const ltv = async (): Promise<[string, number]> => {
      const d = (await app.http.inject({ url: '/v1/entities/a' })).json().datasets[0];
      return [d.version, d.features.ltv.value];
    };
    expect(await ltv()).toEqual(['2', 2]);

    const res = await app.http.inject({ method: 'POST', url: '/v1/datasets/rb/rollback' });
    expect(res.json()).toEqual({ dataset: 'rb', from_version: '2', to_version: '1' });
    expect(await ltv()).toEqual(['1', 1]);
    // Rolling back from the oldest version has nowhere to go.
    const none = await app.http.inject({ method: 'POST', url: '/v1/datasets/rb/rollback' });
    expect(none.statusCode).toBe(409);
    expect(none.json().error.code).toBe('NO_PREVIOUS_VERSION');
    // Forward again with an explicit target.
    const c = new Redis(redis.url);
    const store = new SnapshotStore(c, new KeyLayout(cfg.redis.keyPrefix));
    expect(await store.rollback('rb', 2)).toEqual({ from: 1, to: 2 });
    expect(await waitFor(ltv, (v) => v[0] === '2')).toEqual(['2', 2]);
    await expect(store.rollback('rb', 99)).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    const versions = (await app.http.inject({ url: '/v1/datasets/rb/versions' })).json();
    expect(versions.current_version).toBe('2');
    expect(versions.versions.map((v: { version: string; current: boolean }) => [v.version, v.current])).toEqual([['2', true], ['1', false]]);
    c.disconnect();
  });

  it('keeps keep_versions published versions and reclaims older ones without SCAN or KEYS', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'k.parquet');
    const players = Array.from({ length: 450 }, (_, i) => row(`p${i}`, i));
    writePlayers(file, players);
    const cfg = makeConfig({ loader: { reclaim_grace_ms: 0 }, datasets: [featuresDataset('rc', file, { keep_versions: 2 })] }, { url: redis.url });
    const c = new Redis(redis.url);
    const keys = new KeyLayout(cfg.redis.keyPrefix);
    const scansBefore = (await commandCalls(c, 'scan')) + (await commandCalls(c, 'keys'));
    for (let i = 0; i < 4; i++) await load(cfg, 'rc', true);
    expect((await commandCalls(c, 'scan')) + (await commandCalls(c, 'keys'))).toBe(scansBefore);

    const store = new SnapshotStore(c, keys);
    expect((await store.listVersions('rc')).map((v) => v.id)).toEqual([4, 3]);
    // Count remaining data keys per version (SCAN here is the test's own check, not malt's).
    const dataKeys = async (v: number): Promise<number> => {
      let cursor = '0', n = 0;
      do {
        const [next, batch] = await c.scan(cursor, 'MATCH', `${keys.bucketPrefix('rc', v)}*`, 'COUNT', 1000);
        cursor = next;
        n += batch.length;
      } while (cursor !== '0');
      return n;
    };
    expect(await dataKeys(1)).toBe(0);
    expect(await dataKeys(2)).toBe(0);
    expect(await dataKeys(3)).toBe((await store.manifest('rc', 3))!.buckets);
    expect(await dataKeys(4)).toBeGreaterThan(1);
    c.disconnect();
  });

  it('keeps a replaced version readable for reclaim_grace_ms, so lagging replicas never read a deleted version', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'g.parquet');
    const c = new Redis(redis.url);
    const versionsOf = async (cfg: ReturnType<typeof makeConfig>): Promise<number[]> =>
      (await new SnapshotStore(c, new KeyLayout(cfg.redis.keyPrefix)).listVersions('gr')).map((v) => v.id);
    for (const grace of [60_000, 0]) {
      const cfg = makeConfig({ loader: { reclaim_grace_ms: grace }, datasets: [featuresDataset('gr', file, { keep_versions: 2 })] }, { url: redis.url });
      writePlayers(file, [row('a', 1)]);
      await load(cfg, 'gr');
      writePlayers(file, [row('a', 2)]);
      await load(cfg, 'gr');
      await new SnapshotStore(c, new KeyLayout(cfg.redis.keyPrefix)).rollback('gr'); // serving v1 again
      writePlayers(file, [row('a', 3)]);
      await load(cfg, 'gr'); // v3 replaces v1, which is beyond keep_versions (3, 2)
      expect(await versionsOf(cfg)).toEqual(grace > 0 ? [3, 2, 1] : [3, 2]);
    }
    c.disconnect();
  });

  it('never reclaims the current version, and a version being reclaimed cannot be rolled back to', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'm.parquet');
    writePlayers(file, [row('a', 1)]);
    const cfg = makeConfig({ datasets: [featuresDataset('mr', file)] }, { url: redis.url });
    await load(cfg, 'mr');
    await load(cfg, 'mr', true);
    const c = new Redis(redis.url);
    const keys = new KeyLayout(cfg.redis.keyPrefix);
    const store = new SnapshotStore(c, keys);
    expect(await callScript(c, 'maltMarkReclaiming', [keys.current('mr'), keys.manifest('mr', 2)], [2])).toBe(0);
    expect(await callScript(c, 'maltMarkReclaiming', [keys.current('mr'), keys.manifest('mr', 1)], [1])).toBe(1);
    await expect(store.rollback('mr', 1)).rejects.toMatchObject({ code: 'VERSION_NOT_FOUND' });
    expect(await store.currentVersionId('mr')).toBe(2);
    c.disconnect();
  });

  it('after a rollback, the next scheduled load does not re-publish the rolled-back source', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'b.parquet');
    const cfg = makeConfig({ datasets: [featuresDataset('bad', file)] }, { url: redis.url });
    writePlayers(file, [row('a', 1)]);
    await load(cfg, 'bad');
    writePlayers(file, [row('a', -999)]); // a bad load
    await load(cfg, 'bad');
    const c = new Redis(redis.url);
    await new SnapshotStore(c, new KeyLayout(cfg.redis.keyPrefix)).rollback('bad');
    const next = await load(cfg, 'bad');
    expect(next).toMatchObject({ status: 'skipped', skipReason: 'rolled_back', version: 2, previousVersion: 1 });
    expect(await load(cfg, 'bad', true)).toMatchObject({ status: 'published', version: 3 });
    c.disconnect();
  });

  it('a running replica serves a newly published version within 1 s, without a restart', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'n.parquet');
    writePlayers(file, [row('a', 1)]);
    const cfg = makeConfig({ datasets: [featuresDataset('nv', file)] }, { url: redis.url });
    await load(cfg, 'nv');
    const app = await serve(cfg);
    apps.push(app);
    expect((await app.http.inject({ url: '/v1/entities/a' })).json().datasets[0].version).toBe('1');
    writePlayers(file, [row('a', 5)]);
    await load(cfg, 'nv');
    const published = Date.now();
    const seen = await waitFor(async () => (await app.http.inject({ url: '/v1/entities/a' })).json().datasets[0], (d) => d.version === '2', 2000);
    expect(seen.version).toBe('2');
    expect(seen.features.ltv.value).toBe(5);
    expect(Date.now() - published).toBeLessThan(1000);
  });

  it('picks up a pointer flip even when the pub/sub message is missed (polling fallback)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'p.parquet');
    writePlayers(file, [row('a', 1)]);
    const cfg = makeConfig({ serving: { version_poll_ms: 200 }, datasets: [featuresDataset('poll', file)] }, { url: redis.url });
    await load(cfg, 'poll');
    writePlayers(file, [row('a', 2)]);
    await load(cfg, 'poll');
    const app = await serve(cfg);
    apps.push(app);
    const c = new Redis(redis.url);
    const keys = new KeyLayout(cfg.redis.keyPrefix);
    const uid = await c.hget(keys.manifest('poll', 1), 'uid');
    await c.set(keys.current('poll'), `1:${uid}`); // a flip with no PUBLISH
    const started = Date.now();
    const d = await waitFor(async () => (await app.http.inject({ url: '/v1/entities/a' })).json().datasets[0], (x) => x.version === '1', 2000);
    expect(d.features.ltv.value).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
    c.disconnect();
  });
});
