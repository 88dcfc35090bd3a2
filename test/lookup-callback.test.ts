/**
 * Lookup.lookup, the callback form of get() the HTTP routes use (serving/pending-lookup.ts):
 * every caller is answered exactly once, at once when nothing waits on Redis, and concurrent
 * callers of one cold key share one read; a refused read leaves nothing in flight behind it.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { EntityResult } from '../src/serving/lookup.js';
import { toMaltError } from '../src/errors.js';
import { hgetCalls } from './support/cache-results.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, ownRedis, serve, tmpDir, writePlayers } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();

async function servedPlayers(): Promise<Awaited<ReturnType<typeof serve>>> {
  const dir = tmpDir();
  const file = path.join(dir, 'c.parquet');
  writePlayers(file, [
    { id: 'hot', ltv: 1.5, level: 3, country: 'US', is_payer: true, last_login: null, tags: ['a'] },
    { id: 'cold', ltv: 2, level: 4, country: 'SE', is_payer: false, last_login: null, tags: null },
  ]);
  const cfg = makeConfig({ datasets: [featuresDataset('cb', file)] }, { url: redis.url });
  await load(cfg, 'cb');
  const app = await serve(cfg);
  apps.push(app);
  return app;
}

describe('Lookup.lookup (callback)', () => {
  it('answers cache hits and refusals before it returns, exactly once', async () => {
    const app = await servedPlayers();
    await app.lookup.get(['hot'], ['cb']);
    const calls: [unknown, EntityResult[] | null][] = [];
    app.lookup.lookup(['hot'], ['cb'], (err, r) => calls.push([err, r]));
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBeNull();
    expect(calls[0]![1]![0]!.datasets[0]!.json).toBe((await app.lookup.get(['hot'], ['cb']))[0]!.datasets[0]!.json);
    app.lookup.lookup(['x'.repeat(300)], ['cb'], (err, r) => calls.push([err, r]));
    expect(calls).toHaveLength(2);
    expect(toMaltError(calls[1]![0]).code).toBe('INVALID_ENTITY_ID');
    expect(calls[1]![1]).toBeNull();
  });

  it('concurrent callers of one cold key share one Redis read and are each answered once', async () => {
    const app = await servedPlayers();
    const c = new Redis(redis.url);
    const before = await hgetCalls(c);
    const answers = new Array<number>(20).fill(0);
    const results: EntityResult[][] = [];
    await new Promise<void>((resolve, reject) => {
      let left = answers.length;
      for (let i = 0; i < answers.length; i++) {
        app.lookup.lookup(['cold'], ['cb'], (err, r) => {
          answers[i]!++;
          if (err !== null) reject(err);
          results.push(r!);
          if (--left === 0) resolve();
        });
      }
      // A miss is answered when Redis is, never before lookup() returns.
      expect(answers.every((n) => n === 0)).toBe(true);
    });
    expect(answers.every((n) => n === 1)).toBe(true);
    expect(results.every((r) => r[0]!.datasets[0]!.found && r[0]!.datasets[0]!.json.includes('"country":{"value":"SE"'))).toBe(true);
    expect((await hgetCalls(c)) - before).toBe(1);
    c.disconnect();
  });

  it('a read the open breaker refuses answers STORE_UNAVAILABLE at once and leaves nothing in flight', async () => {
    const app = await servedPlayers();
    const served = (await app.lookup.get(['hot'], ['cb']))[0]!.datasets[0]!;
    expect(served.found).toBe(true);
    app.lookup.breaker.trip('test: Redis presumed down');
    const calls: unknown[] = [];
    app.lookup.lookup(['cold', 'cold'], ['cb'], (err) => calls.push(err));
    expect(calls).toHaveLength(1);
    expect(toMaltError(calls[0]).code).toBe('STORE_UNAVAILABLE');
    const prefix = app.lookup.resolve(['cb'])[0]!.cachePrefix;
    expect(app.lookup.cache.peekPending(`${prefix}cold`)).toBeUndefined();
    app.lookup.breaker.success();
  });
});
