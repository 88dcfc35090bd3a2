import { Command, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyLayout, bucketOf } from '../src/keys.js';
import { SnapshotWriter } from '../src/store/snapshot-writer.js';
import { hsetBytes } from '../src/store/resp-frame.js';
import { redisUrl, uniquePrefix } from './support/fixtures.js';

// The loader's writer buffers values per bucket and sends one multi-field HSET per bucket, framed
// by malt (store/resp-frame.ts). What Redis holds afterwards, and the counts, must be exactly
// what one plain HSET per row in source order gives.

const clients: Redis[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
});

function client(): Redis {
  const c = new Redis(redisUrl());
  clients.push(c);
  return c;
}

/** Every bucket hash under `prefix`, fields sorted, values as hex. */
async function contents(redis: Redis, prefix: string): Promise<Record<string, Record<string, string>>> {
  const keys = (await redis.keys(`${prefix}*`)).sort();
  const out: Record<string, Record<string, string>> = {};
  for (const k of keys) {
    const h = await redis.hgetallBuffer(k);
    out[k.slice(prefix.length)] = Object.fromEntries(Object.keys(h).sort().map((f) => [f, (h[f] as Buffer).toString('hex')]));
  }
  return out;
}

describe('HSET framing', () => {
  it('frames exactly the bytes ioredis writes for the same HSET', () => {
    const cases: [string, (string | Buffer)[]][] = [
      ['P:d:ds:1:0', ['p1', Buffer.from([1, 2, 3])]],
      ['P:d:ds:1:12345', ['Ünïcode ✓', Buffer.alloc(0), '', Buffer.from('x'.repeat(300)), 'p'.repeat(10_000), 'v']],
      ['k', Array.from({ length: 2 * 1024 }, (_, i) => (i % 2 === 0 ? `id${i}` : Buffer.alloc(i % 200, i)))],
    ];
    for (const [key, args] of cases) {
      const theirs = new Command('hset', [key, ...args]).toWritable(undefined as never);
      const bytes = typeof theirs === 'string' ? Buffer.from(theirs, 'utf8') : theirs;
      expect(hsetBytes(key, args).equals(bytes)).toBe(true);
    }
  });
});

describe('the snapshot writer', () => {
  it('leaves Redis holding what one HSET per row leaves, with the same entity and duplicate counts', async () => {
    const redis = client();
    const keys = new KeyLayout(uniquePrefix());
    const buckets = 7;
    // Ids repeat (later values win), some buckets get more than one command's worth of fields.
    const rows: [string, Buffer][] = [];
    for (let i = 0; i < 12_000; i++) {
      const id = i % 5 === 0 ? `dup-${i % 700}` : `p-${i}-${'é'.repeat(i % 3)}`;
      rows.push([id, Buffer.from(`${i}:${'v'.repeat(i % 90)}`)]);
    }
    // Reference: one plain HSET per row, in order, counting as HSET answers.
    let refEntities = 0;
    const refPrefix = keys.bucketPrefix('ref', 1);
    for (let i = 0; i < rows.length; i += 500) {
      const p = redis.pipeline();
      for (const [id, v] of rows.slice(i, i + 500)) p.hset(refPrefix + bucketOf(id, buckets), id, v);
      for (const [err, added] of (await p.exec()) ?? []) {
        expect(err).toBeNull();
        refEntities += added as number;
      }
    }
    const writer = new SnapshotWriter(redis, keys, 'ds', 1, buckets, { batchRows: 1000, maxInFlight: 2 });
    let batches = 0;
    for (const [id, v] of rows) {
      if (writer.addValue(id, v)) {
        batches++;
        await writer.flush();
      }
    }
    const totals = await writer.finish();
    expect(batches).toBeGreaterThan(5); // several batches, each bucket's share over several commands
    expect(totals).toEqual({ entities: refEntities, duplicates: rows.length - refEntities });
    expect(await contents(redis, keys.bucketPrefix('ds', 1))).toEqual(await contents(redis, refPrefix));
  });

  it('sends a full batch of many buckets as few commands, bounded in rows', () => {
    const writer = new SnapshotWriter(client(), new KeyLayout(uniquePrefix()), 'ds', 1, 100_000, { batchRows: 1000, maxInFlight: 4 });
    expect(writer.flushRows).toBe(65_536);
    let rows = 0;
    while (!writer.addValue(`p${rows}`, Buffer.alloc(10))) rows++;
    expect(rows + 1).toBe(65_536);
    const small = new SnapshotWriter(client(), new KeyLayout(uniquePrefix()), 'ds', 1, 3, { batchRows: 1000, maxInFlight: 4 });
    expect(small.flushRows).toBe(1000);
  });

  it('reports a command Redis refuses as the load error', async () => {
    const redis = client();
    const keys = new KeyLayout(uniquePrefix());
    await redis.set(`${keys.bucketPrefix('ds', 1)}0`, 'not a hash');
    const writer = new SnapshotWriter(redis, keys, 'ds', 1, 1, { batchRows: 10, maxInFlight: 1 });
    for (let i = 0; i < 10; i++) writer.addValue(`p${i}`, Buffer.from('v'));
    await expect(writer.finish()).rejects.toThrow(/WRONGTYPE/);
  });
});
