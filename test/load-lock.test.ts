/**
 * LOAD_IN_PROGRESS tells who holds the lock and when it expires.
 */
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyLayout } from '../src/keys.js';
import { featuresDataset, load, makeConfig, newRedis, tmpDir, writePlayers } from './support/fixtures.js';

describe('load lock', () => {
  it('a held lock is refused with the holder (host, pid) and when the lock expires', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'p.parquet'), [{ id: 'a', ltv: 1, level: 1, country: 'SE', is_payer: true, last_login: null, tags: null }]);
    const config = makeConfig({ datasets: [featuresDataset('locked', path.join(dir, 'p.parquet'))] });
    const redis = newRedis(config);
    try {
      await redis.set(new KeyLayout(config.redis.keyPrefix).lock('locked'), `${hostname()}|${process.pid}|abc`, 'PX', 20_000);
      const err = await load(config, 'locked').then(() => null, (e: unknown) => e as { code: string; message: string });
      expect(err?.code).toBe('LOAD_IN_PROGRESS');
      expect(err?.message).toContain(`pid ${process.pid} on host ${hostname()}`);
      expect(err?.message).toMatch(/lock expires in (19|20)\.\d s/);
    } finally {
      redis.disconnect();
    }
  });
});

describe('dead lock owner', () => {
  it('a lock left by a dead loader on this host is taken over at once', async () => {
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    const dir = tmpDir();
    writePlayers(path.join(dir, 'p.parquet'), [{ id: 'a', ltv: 1, level: 1, country: 'SE', is_payer: true, last_login: null, tags: null }]);
    const config = makeConfig({ datasets: [featuresDataset('dead', path.join(dir, 'p.parquet'))] });
    const redis = newRedis(config);
    try {
      const lock = new KeyLayout(config.redis.keyPrefix).lock('dead');
      await redis.set(lock, `${hostname()}|${pid}|abc`, 'PX', 30_000);
      const report = await load(config, 'dead');
      expect(report.status).toBe('published');
      expect(await redis.exists(lock)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
