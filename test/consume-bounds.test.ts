/**
 * What `malt consume` keeps bounded (docs/consume.md): the dead-letter stream, trimmed on every
 * append to about `dead_letter_maxlen` entries (XADD MAXLEN ~), the newest kept, every malformed
 * entry still acknowledged and counted; and the retries of a failing write, which go on (nothing
 * is acknowledged, so nothing is lost) at a doubling delay capped at 5 s, each logged with its
 * state (attempt, delay, how long it has been failing), and the recovery logged once.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { consumedStreams, startStreamConsumer } from '../src/consume/stream-consumer.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { MaltError } from '../src/errors.js';
import { createUpdateWritePath, type UpdateWritePath } from '../src/updates/write-path.js';
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

  it('a failing write is retried with a doubling, capped delay, each failure logged with its state, and the recovery logged', async () => {
    const file = path.join(tmpDir(), 's.parquet');
    writeParquet(file, [{ name: 'player_id', type: 'string', data: ['a'] }, { name: 'segment', type: 'string', data: ['vip'] }]);
    const prefix = uniquePrefix();
    const stream = `${prefix}:in`;
    const cfg = makeConfig({ datasets: [{ name: 'segs', kind: 'segments', source: { format: 'parquet', uri: file }, key: 'player_id', segment_column: 'segment', updates: { enabled: true }, updates_stream: stream }] }, { prefix, url: redis.url });
    await load(cfg, 'segs');
    const r = new Redis(redis.url);
    const reader = new Redis(redis.url);
    const real = createUpdateWritePath(r, cfg);
    let calls = 0;
    const flaky: UpdateWritePath = {
      apply(dataset, items, receivedAt) {
        calls += 1;
        if (calls <= 4) return Promise.reject(new MaltError('STORE_UNAVAILABLE', 'Redis is unreachable: test'));
        return real.apply(dataset, items, receivedAt);
      },
    };
    const lines: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
    const log = (level: string) => (message: string, fields?: Record<string, unknown>): void => { lines.push({ level, message, fields }); };
    await r.xadd(stream, '*', 'entity_id', 'b', 'op', 'add', 'segment', 'whale');
    const run = await startStreamConsumer({ redis: r, reader, writePath: flaky, streams: consumedStreams(cfg), group: 'malt', consumer: 'c1', batchSize: 10, blockMs: 100, claimIdleMs: 30_000, logger: { info: log('info'), warn: log('warn'), error: log('error') } });
    try {
      const deadline = Date.now() + 10_000;
      while (run.stats.applied < 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(run.stats).toMatchObject({ applied: 1, retries: 4 });
      const errors = lines.filter((l) => l.level === 'error');
      expect(errors.map((l) => l.fields?.['retry_in_ms'])).toEqual([100, 200, 400, 800]);
      expect(errors.map((l) => l.fields?.['failed_rounds'])).toEqual([1, 2, 3, 4]);
      expect(errors[3]!.message).toMatch(/^consume: STORE_UNAVAILABLE: Redis is unreachable: test; entries stay pending, retry 4 in 800 ms \(failing for \d+ ms\)$/);
      expect(Number(errors[3]!.fields?.['failing_ms'])).toBeGreaterThanOrEqual(650);
      const recovered = (): number => lines.filter((l) => l.message.startsWith('consume: recovered after 4 failed round(s)')).length;
      // Logged at the end of the first round that succeeds (after its blocking read).
      while (recovered() === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(lines.filter((l) => l.message.startsWith('consume: recovered after 4 failed round(s)'))).toHaveLength(1);
    } finally {
      await run.stop();
      r.disconnect();
      reader.disconnect();
    }
  });
});
