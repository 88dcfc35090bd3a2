/**
 * Cache admission (cache/admission-filter.ts): while the LRU is full, the read path's offer()
 * inserts a result only on its key's second miss, so a key set far larger than the cache does not
 * evict an entry per miss; the byte bound holds either way.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ResultCache } from '../src/cache/result-cache.js';
import { hgetCalls, result } from './support/cache-results.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, ownRedis, serve, tmpDir, writePlayers } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();


describe('cache admission', () => {
  it('inserts every result until the cache is full', () => {
    const cache = new ResultCache(1024 * 1024, 1000);
    for (let i = 0; i < 100; i++) cache.offer(`k${i}`, result(i));
    expect(cache.entries).toBe(100);
    expect(cache.stats.notAdmitted).toBe(0);
  });

  it('once full, a first miss is not inserted and a second one is', () => {
    const cache = new ResultCache(64 * 1024, 1000);
    for (let i = 0; i < 2000; i++) cache.offer(`fill${i}`, result(i));
    expect(cache.sizeBytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.stats.notAdmitted).toBeGreaterThan(1500);
    cache.offer('hot', result(1));
    expect(cache.get('hot')).toBeUndefined();
    cache.offer('hot', result(1));
    expect(cache.get('hot')).toBeDefined();
    expect(cache.sizeBytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('keys read once each evict a small fraction of what unconditional inserts evict, within the same bytes', () => {
    const always = new ResultCache(64 * 1024, 1000);
    const admitted = new ResultCache(64 * 1024, 1000);
    for (let i = 0; i < 20_000; i++) {
      always.set(`k${i}`, result(i));
      admitted.offer(`k${i}`, result(i));
    }
    expect(always.stats.evictions).toBeGreaterThan(19_000);
    expect(admitted.stats.evictions).toBeLessThan(always.stats.evictions / 10);
    expect(admitted.sizeBytes).toBeLessThanOrEqual(64 * 1024);
    expect(always.sizeBytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('follows set() for negative results: not cached without negative_ttl_ms', () => {
    const cache = new ResultCache(1024 * 1024, 0);
    cache.offer('missing', result(0, false));
    expect(cache.get('missing')).toBeUndefined();
  });

  it('through the read path: on a full cache an entity read twice is then served from cache', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'a.parquet');
    const rows = Array.from({ length: 400 }, (_, i) => ({ id: `p${i}`, ltv: i, level: i, country: `c${'x'.repeat(200)}`, is_payer: true, last_login: null, tags: null }));
    writePlayers(file, rows);
    const cfg = makeConfig({ cache: { max_bytes: 32 * 1024 }, datasets: [featuresDataset('adm', file)] }, { url: redis.url });
    await load(cfg, 'adm');
    const app = await serve(cfg);
    apps.push(app);
    for (const r of rows) await app.lookup.get([r.id], ['adm']);
    const { cache } = app.lookup;
    expect(cache.sizeBytes).toBeLessThanOrEqual(32 * 1024);
    expect(cache.stats.notAdmitted).toBeGreaterThan(200);
    expect(cache.stats.evictions).toBeLessThan(100);
    const c = new Redis(redis.url);
    const before = await hgetCalls(c);
    await app.lookup.get(['p399'], ['adm']); // read last, when full: not admitted then; admitted now
    await app.lookup.get(['p399'], ['adm']); // hit
    const [r] = await app.lookup.get(['p399'], ['adm']);
    expect(r!.datasets[0]!.toObject().features['ltv']!.value).toBe(399);
    expect((await hgetCalls(c)) - before).toBe(1);
    c.disconnect();
  });
});
