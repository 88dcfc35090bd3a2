/**
 * The dead-letter stream of `malt consume` is bounded (docs/consume.md#dead-letters): every
 * append trims it to about `dead_letter_maxlen` entries (XADD MAXLEN ~), the newest kept, and
 * every malformed entry is still acknowledged and counted.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { consumedStreams, startStreamConsumer } from '../src/consume/stream-consumer.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { createUpdateWritePath } from '../src/updates/write-path.js';
import { load, makeConfig, ownRedis, tmpDir, uniquePrefix } from './support/fixtures.js';

const redis = ownRedis();

describe('dead-letter stream trimming', () => {
  it('keeps about dead_letter_maxlen entries, the newest, while counting every dead letter', async () => {
    const file = path.join(tmpDir(), 's.parquet');
    writeParquet(file, [{ name: 'player_id', type: 'string', data: ['a'] }, { name: 'segment', type: 'string', data: ['vip'] }]);
    const prefix = uniquePrefix();
    const stream = `${prefix}:in`;
    const cfg = makeConfig({ datasets: [{ name: 'segs', kind: 'segments', source: { format: 'parquet', uri: file }, key: 'player_id', segment_column: 'segment', updates: { enabled: true }, updates_stream: stream, dead_letter_maxlen: 1000 }] }, { prefix, url: redis.url });
    await load(cfg, 'segs');
    const r = new Redis(redis.url);
    const reader = new Redis(redis.url);
    const n = 2500;
    const p = r.pipeline();
    for (let i = 0; i < n; i++) p.xadd(stream, '*', 'entity_id', `e${i}`, 'op', 'nonsense');
    await p.exec();
    const run = await startStreamConsumer({ redis: r, reader, writePath: createUpdateWritePath(r, cfg), streams: consumedStreams(cfg), group: 'malt', consumer: 'c1', batchSize: 100, blockMs: 100, claimIdleMs: 30_000 });
    try {
      const deadline = Date.now() + 20_000;
      while (run.stats.deadLettered < n && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(run.stats.deadLettered).toBe(n);
      const len = await r.xlen(`${stream}:dead`);
      expect(len).toBeGreaterThanOrEqual(1000);
      expect(len).toBeLessThan(1200); // ~ trims whole macro nodes (100 entries by default)
      const [last] = await r.xrevrange(`${stream}:dead`, '+', '-', 'COUNT', 1);
      expect(last![1]).toContain(`e${n - 1}`);
    } finally {
      await run.stop();
      r.disconnect();
      reader.disconnect();
    }
  });
});
