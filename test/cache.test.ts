import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ResultCache } from '../src/cache/result-cache.js';
import { hgetCalls, result } from './support/cache-results.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers, appsClosedAfterAll, ownRedis } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();


describe('in-process LRU', () => {
  it('is bounded by bytes: inserting far more than fits keeps the total under max_bytes', () => {
    const cache = new ResultCache(64 * 1024, 1000);
    for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, result(i));
    expect(cache.sizeBytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.entries).toBeGreaterThan(50);
    expect(cache.entries).toBeLessThan(10_000);
    expect(cache.get('k9999')).toBeDefined();
    expect(cache.get('k0')).toBeUndefined();
  });

  it('caches negative results only for negative_ttl_ms', async () => {
    const cache = new ResultCache(1024 * 1024, 50);
    cache.set('missing', result(0, false));
    expect(cache.get('missing')).toBeDefined();
    await new Promise((r) => setTimeout(r, 80));
    expect(cache.get('missing')).toBeUndefined();
  });

  it('concurrent misses on one key share one Redis read; hits read nothing', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'c.parquet');
    writePlayers(file, [{ id: 'hot', ltv: 1, level: 1, country: 'US', is_payer: true, last_login: null, tags: null }]);
    const cfg = makeConfig({ datasets: [featuresDataset('sf', file)] }, { url: redis.url });
    await load(cfg, 'sf');
    const app = await serve(cfg);
    apps.push(app);
    const c = new Redis(redis.url);
    const before = await hgetCalls(c);
    const results = await Promise.all(Array.from({ length: 50 }, () => app.lookup.get(['hot'], ['sf'])));
    expect(results.every((r) => r[0]!.datasets[0]!.found)).toBe(true);
    expect((await hgetCalls(c)) - before).toBe(1);
    expect(app.lookup.cache.stats.sharedMisses).toBe(49);
    // Now cached: more reads cost no Redis command; a duplicate id in one batch is read once.
    await Promise.all(Array.from({ length: 20 }, () => app.lookup.get(['hot'], ['sf'])));
    expect((await hgetCalls(c)) - before).toBe(1);
    await app.lookup.get(['hot', 'hot', 'cold', 'cold'], ['sf']);
    expect((await hgetCalls(c)) - before).toBe(2);
    c.disconnect();
  });
});
