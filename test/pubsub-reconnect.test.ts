/**
 * Invalidation after a pub/sub reconnect (docs/updates.md#freshness-and-the-cache): a replica
 * whose subscriber connection was dropped missed the invalidation messages sent meanwhile, so
 * once it is subscribed again it must not serve a cached value an update has changed. The
 * missed message is simulated exactly: the overlay is written without any notice, and the
 * subscriber connection is killed (CLIENT KILL); the replica's own Redis stays up.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { KeyLayout } from '../src/keys.js';
import { OverlayStore } from '../src/store/overlay-store.js';
import { validateItem } from '../src/updates/update-validation.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, ownRedis, serve, tmpDir, writePlayers } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();

describe('pub/sub reconnect', () => {
  it('a replica that missed invalidations while its subscriber was disconnected drops its cached values once resubscribed', async () => {
    const file = path.join(tmpDir(), 'p.parquet');
    writePlayers(file, [{ id: 'a', ltv: 1, level: 1, country: 'US', is_payer: false, last_login: null, tags: null }]);
    const cfg = makeConfig({ datasets: [featuresDataset('p', file, { updates: { enabled: true } })] }, { url: redis.url });
    await load(cfg, 'p');
    const app = await serve(cfg);
    apps.push(app);
    const ltv = async (): Promise<unknown> => (await app.lookup.get(['a'], ['p']))[0]!.datasets[0]!.toObject().features['ltv']!.value;
    expect(await ltv()).toBe(1); // now cached

    const direct = new Redis(redis.url);
    try {
      // An update whose notice this replica never gets: the overlay written without a PUBLISH.
      const item = validateItem({ entity_id: 'a', op: 'upsert', values: { ltv: 99 } }, 'features', new Map([['ltv', 'double']]), BigInt(Date.now()) * 1000n, 0n);
      if ('code' in item) throw new Error(item.message);
      await new OverlayStore(direct, new KeyLayout(cfg.redis.keyPrefix)).apply('p', new Map([['a', item.entries]]), 60_000);
      expect(await ltv()).toBe(1); // the cache still answers: nothing told this replica

      const events = `${cfg.redis.keyPrefix}:events`;
      const list = String(await direct.client('LIST'));
      const subscriber = list.split('\n').find((l) => / sub=1 /.test(l));
      expect(subscriber, list).toBeDefined();
      await direct.client('KILL', 'ID', /id=(\d+)/.exec(subscriber!)![1]!);
      // Resubscribed (ioredis reconnects by itself), then the cached value must be gone.
      const deadline = Date.now() + 10_000;
      let value: unknown = 1;
      while (Date.now() < deadline) {
        const [, subs] = (await direct.pubsub('NUMSUB', events)) as [string, number];
        if (Number(subs) === 1 && (value = await ltv()) === 99) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(value).toBe(99);
      expect(await ltv()).toBe(99);
    } finally {
      direct.disconnect();
    }
  });
});
