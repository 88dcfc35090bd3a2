import path from 'node:path';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildHttp } from '../src/serving/http-server.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, uniquePrefix, writePlayers, type PlayerRow, appsClosedAfterAll, ownRedis } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();
const rows: PlayerRow[] = Array.from({ length: 50 }, (_, i) => ({ id: `p${i}`, ltv: i, level: i, country: 'US', is_payer: true, last_login: null, tags: null }));
let dir: string;

beforeAll(async () => {
  dir = tmpDir();
  writePlayers(path.join(dir, 'p.parquet'), rows);
});

describe('backpressure behind a stalled Redis', () => {
  it('sheds new reads once serving.max_pending_reads are outstanding, and recovers when Redis answers', async () => {
    const cfg = makeConfig({ serving: { request_timeout_ms: 300, max_pending_reads: 5 }, datasets: [featuresDataset('bp', path.join(dir, 'p.parquet'))] }, { url: redis.url });
    await load(cfg, 'bp');
    const app = await serve(cfg);
    apps.push(app);
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '2500', 'ALL');
    const pauseStarted = Date.now();
    const batch = (ids: string[]) => app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids } });
    // Five reads go to Redis and stay pending past their 300 ms deadline (Redis is paused).
    const first = await batch(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(first.statusCode).toBe(503);
    // The next miss is refused at once instead of queueing behind them.
    const started = performance.now();
    const shed = await batch(['p6']);
    expect(performance.now() - started).toBeLessThan(100);
    expect(shed.statusCode).toBe(503);
    expect(shed.json().error.code).toBe('STORE_UNAVAILABLE');
    expect(shed.json().error.message).toMatch(/not keeping up: 5 reads pending/);
    // Admin listing is bounded by a deadline too (max(1 s, 4 × request_timeout_ms)), never a hang.
    const t0 = performance.now();
    const versions = await app.http.inject({ url: '/v1/datasets/bp/versions' });
    expect(versions.statusCode).toBe(503);
    expect(versions.json().error.code).toBe('STORE_UNAVAILABLE');
    expect(performance.now() - t0).toBeLessThan(1500);
    // Once Redis answers, the pending reads drain and lookups work again.
    await new Promise((r) => setTimeout(r, Math.max(0, 2550 - (Date.now() - pauseStarted))));
    let ok = await batch(['p6', 'p7']);
    for (let i = 0; i < 40 && ok.statusCode !== 200; i++) {
      await new Promise((r) => setTimeout(r, 25));
      ok = await batch(['p6', 'p7']);
    }
    expect(ok.statusCode).toBe(200);
    expect(ok.json().results[1].datasets[0].features.ltv.value).toBe(7);
    admin.disconnect();
  });
});

describe('admin calls over HTTP', () => {
  it('rollback needs the admin token when one is configured', async () => {
    const cfg = makeConfig({ serving: { admin_token: 's3cret' }, datasets: [featuresDataset('adm', path.join(dir, 'p.parquet'))] }, { url: redis.url });
    await load(cfg, 'adm');
    await load(cfg, 'adm', true);
    const app = await serve(cfg);
    apps.push(app);
    const rollback = (headers: Record<string, string>) => app.http.inject({ method: 'POST', url: '/v1/datasets/adm/rollback', headers });
    expect((await rollback({})).json().error.code).toBe('UNAUTHENTICATED');
    expect((await rollback({})).statusCode).toBe(401);
    expect((await rollback({ authorization: 'Bearer nope' })).statusCode).toBe(401);
    const ok = await rollback({ authorization: 'Bearer s3cret' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ from_version: '2', to_version: '1' });
  });

  it('without a token, rollback over HTTP is refused on a server listening beyond loopback', async () => {
    const prefix = uniquePrefix();
    const local = makeConfig({ datasets: [featuresDataset('open', path.join(dir, 'p.parquet'))] }, { url: redis.url, prefix });
    await load(local, 'open');
    const app = await serve(local);
    apps.push(app);
    // The same replica's routes, as they would be configured for 0.0.0.0 (built, not listened on).
    const wide = makeConfig({ serving: { host: '0.0.0.0' }, datasets: [featuresDataset('open', path.join(dir, 'p.parquet'))] }, { url: redis.url, prefix });
    const http = await buildHttp({ config: wide, lookup: app.lookup, tracker: app.tracker, readiness: app.readiness, redis: app.redis, isClosing: () => false });
    const res = await http.inject({ method: 'POST', url: '/v1/datasets/open/rollback' });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('ADMIN_DISABLED');
    await http.close();
  });

  it('rollback accepts only a version id as "to"', async () => {
    const cfg = makeConfig({ datasets: [featuresDataset('body', path.join(dir, 'p.parquet'))] }, { url: redis.url });
    await load(cfg, 'body');
    const app = await serve(cfg);
    apps.push(app);
    for (const payload of [{ to: true }, { to: [1] }, { to: '1.5' }, { to: -1 }, { to: '1', extra: 1 }]) {
      const res = await app.http.inject({ method: 'POST', url: '/v1/datasets/body/rollback', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe('INVALID_ARGUMENT');
    }
  });
});
