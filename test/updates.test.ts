/**
 * Real-time updates end to end against a real redis-server: HTTP and gRPC push through the one
 * write path, per-item validation (nothing applied), last-write-wins with out-of-order events and
 * tombstones, partial upserts, segments, the updated marker, and zero overlay reads for datasets
 * with updates off.
 */
import { utimesSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { call, servingClient } from '../src/serving/grpc-client.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { KeyLayout } from '../src/keys.js';
import { createUpdateWritePath, UpdateRejected } from '../src/updates/write-path.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, ownRedis, serve, tmpDir, writePlayers } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();
// The versions' as-of time: a day ago (updates.retention is at most 30 days).
const AS_OF = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000);
const at = (minutes: number): string => new Date(AS_OF.getTime() + minutes * 60_000).toISOString();

async function setup(extra: Record<string, unknown> = {}): Promise<{ app: ServingApp; prefix: string }> {
  const dir = tmpDir();
  const file = path.join(dir, 'p.parquet');
  writePlayers(file, [
    { id: 'a', ltv: 1, level: 1, country: 'US', is_payer: false, last_login: null, tags: ['x'] },
    { id: 'b', ltv: 2, level: 2, country: 'FR', is_payer: false, last_login: null, tags: null },
  ]);
  utimesSync(file, AS_OF, AS_OF); // the version's as-of time (Parquet: newest file mtime)
  const seg = path.join(dir, 's.parquet');
  writeParquet(seg, [{ name: 'player_id', type: 'string', data: ['a', 'a', 'b'] }, { name: 'segment', type: 'string', data: ['whale', 'lapsed', 'whale'] }]);
  utimesSync(seg, AS_OF, AS_OF);
  const updates = { enabled: true, retention: '240h', ...(extra['updates'] as object | undefined) };
  const cfg = makeConfig({
    datasets: [
      featuresDataset('pf', file, { updates }),
      { name: 'ps', kind: 'segments', source: { format: 'parquet', uri: seg }, key: 'player_id', segment_column: 'segment', updates },
      featuresDataset('off', file),
    ],
  }, { url: redis.url });
  for (const d of ['pf', 'ps', 'off']) await load(cfg, d);
  const app = await serve(cfg);
  apps.push(app);
  return { app, prefix: cfg.redis.keyPrefix };
}

async function push(app: ServingApp, dataset: string, updates: unknown[]): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON bodies
  const res = await app.http.inject({ method: 'POST', url: `/v1/datasets/${dataset}/updates`, payload: { updates } });
  return { status: res.statusCode, body: res.json() };
}

async function features(app: ServingApp, id: string, dataset = 'pf'): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON bodies
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${id}?datasets=${dataset}` });
  return res.json().datasets[0];
}

describe('push and read', () => {
  it('a partial upsert changes only its columns, marks them updated, and keeps the version', async () => {
    const { app } = await setup();
    expect((await features(app, 'a')).features.ltv).toEqual({ value: 1, status: 'PRESENT' });
    const r = await push(app, 'pf', [{ entity_id: 'a', op: 'upsert', values: { ltv: 99.5, level: '7', last_login: '2026-01-02T03:04:05.123456Z' }, event_time: at(10) }]);
    expect(r).toEqual({ status: 200, body: { applied: 1 } });
    const d = await features(app, 'a');
    expect(d.version).toBe('1');
    expect(d.found).toBe(true);
    expect(d.features.ltv).toEqual({ value: 99.5, status: 'PRESENT', updated: true });
    expect(d.features.level).toEqual({ value: '7', status: 'PRESENT', updated: true });
    expect(d.features.last_login).toEqual({ value: '2026-01-02T03:04:05.123456Z', status: 'PRESENT', updated: true });
    expect(d.features.country).toEqual({ value: 'US', status: 'PRESENT' });
    // A new entity through an update only: found, unset columns null.
    await push(app, 'pf', [{ entity_id: 'new', op: 'upsert', values: { is_payer: true }, event_time: at(11) }]);
    const n = await features(app, 'new');
    expect(n.found).toBe(true);
    expect(n.features.is_payer).toEqual({ value: true, status: 'PRESENT', updated: true });
    expect(n.features.country).toEqual({ value: null, status: 'NULL_VALUE' });
  });

  it('HTTP and gRPC push apply identically (and gRPC reads carry the updated flag)', async () => {
    const { app } = await setup();
    const values = { ltv: 3.25, level: '-9007199254740993', country: 'DE', is_payer: true, last_login: '2026-02-03T04:05:06.789Z', tags: ['p', 'q'] };
    expect((await push(app, 'pf', [{ entity_id: 'a', op: 'upsert', values, event_time: at(5) }])).status).toBe(200);
    const client = servingClient(`127.0.0.1:${app.grpcPort}`);
    try {
      const res = await call<{ applied: number }>(client, 'Push', {
        dataset: 'pf',
        updates: [{
          entity_id: 'b', op: 'upsert', event_time: at(5), values: {
            ltv: { double_value: 3.25 }, level: { int64_value: '-9007199254740993' }, country: { string_value: 'DE' }, is_payer: { bool_value: true },
            last_login: { timestamp_value: { seconds: String(Date.parse('2026-02-03T04:05:06Z') / 1000), nanos: 789_000_000 } }, tags: { string_list_value: { values: ['p', 'q'] } },
          },
        }],
      });
      expect(res.applied).toBe(1);
      const fa = (await features(app, 'a')).features;
      const fb = (await features(app, 'b')).features;
      expect(fb).toEqual(fa);
      expect(fa.level).toEqual({ value: '-9007199254740993', status: 'PRESENT', updated: true });
      const got = await call<{ datasets: { features: Record<string, { updated: boolean; status: string }> }[] }>(client, 'Get', { entity_id: 'b', datasets: ['pf'] });
      expect(got.datasets[0]!.features['ltv']).toMatchObject({ status: 'PRESENT', updated: true });
      // A rejected gRPC push names each bad item in the malt-error-items metadata.
      const err = await call(client, 'Push', { dataset: 'pf', updates: [{ entity_id: 'a', op: 'upsert', values: { nope: { bool_value: true } } }] }).catch((e: unknown) => e) as { code: number; metadata: { get(k: string): unknown[] } };
      expect(err.code).toBe(3);
      expect(JSON.parse(String(err.metadata.get('malt-error-items')[0]))).toEqual([{ index: 0, code: 'UNKNOWN_COLUMN', message: expect.any(String) }]);
    } finally {
      client.close();
    }
  });

  it('one bad item rejects the whole batch with per-item errors and applies nothing', async () => {
    const { app } = await setup();
    const r = await push(app, 'pf', [
      { entity_id: 'a', op: 'upsert', values: { ltv: 50 }, event_time: at(1) },
      { entity_id: 'b', op: 'upsert', values: { level: 3 }, event_time: at(1) },
      { entity_id: 'b', op: 'upsert', values: { nope: 1 } },
      { entity_id: '', op: 'upsert', values: { ltv: 1 } },
      { entity_id: 'a', op: 'add', segment: 'x' },
      { entity_id: 'a', op: 'upsert', values: { ltv: 1 }, event_time: 'yesterday' },
      { entity_id: 'a', op: 'upsert', values: { ltv: 1 }, event_time: new Date(Date.now() - 11 * 86_400_000).toISOString() },
      { entity_id: 'a', op: 'upsert', values: {} },
    ]);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('UPDATE_INVALID');
    expect(r.body.error.items.map((i: { index: number; code: string }) => [i.index, i.code])).toEqual([
      [1, 'INVALID_VALUE'], [2, 'UNKNOWN_COLUMN'], [3, 'INVALID_ENTITY_ID'], [4, 'INVALID_OP'], [5, 'INVALID_EVENT_TIME'], [6, 'EVENT_TOO_OLD'], [7, 'INVALID_VALUES'],
    ]);
    expect((await features(app, 'a')).features.ltv).toEqual({ value: 1, status: 'PRESENT' });
    // Other refusals: unknown dataset, updates off, batch too large, malformed body.
    expect((await push(app, 'nope', [])).status).toBe(404);
    expect((await push(app, 'off', [{ entity_id: 'a', op: 'delete' }])).body.error.code).toBe('UPDATES_DISABLED');
    const big = Array.from({ length: 1001 }, () => ({ entity_id: 'a', op: 'delete' }));
    expect((await push(app, 'pf', big)).body.error.code).toBe('BATCH_TOO_LARGE');
    const bad = await app.http.inject({ method: 'POST', url: '/v1/datasets/pf/updates', payload: { items: [] } });
    expect(bad.statusCode).toBe(400);
  });

  it('last write wins by event time, out of order, with tombstones a later upsert overrides', async () => {
    const { app } = await setup();
    await push(app, 'pf', [{ entity_id: 'a', op: 'upsert', values: { ltv: 5 }, event_time: at(20) }]);
    await push(app, 'pf', [{ entity_id: 'a', op: 'upsert', values: { ltv: 3 }, event_time: at(10) }]); // older: ignored
    expect((await features(app, 'a')).features.ltv.value).toBe(5);
    await push(app, 'pf', [{ entity_id: 'a', op: 'delete', event_time: at(30) }]);
    expect((await features(app, 'a')).found).toBe(false);
    await push(app, 'pf', [{ entity_id: 'a', op: 'upsert', values: { ltv: 7 }, event_time: at(25) }]); // before the delete
    expect((await features(app, 'a')).found).toBe(false);
    await push(app, 'pf', [{ entity_id: 'a', op: 'upsert', values: { level: '4' }, event_time: at(40) }]);
    const d = await features(app, 'a');
    expect(d.found).toBe(true);
    expect(d.features.level).toEqual({ value: '4', status: 'PRESENT', updated: true });
    expect(d.features.ltv).toEqual({ value: null, status: 'NULL_VALUE' }); // the delete removed the batch value
    expect(d.features.country).toEqual({ value: null, status: 'NULL_VALUE' });
  });

  it('replaying the same operations in any order gives the same overlay', async () => {
    const { app, prefix } = await setup();
    const ops = [
      { entity_id: 'r', op: 'upsert', values: { ltv: 1, country: 'A' }, event_time: at(1) },
      { entity_id: 'r', op: 'upsert', values: { ltv: 2 }, event_time: at(2) },
      { entity_id: 'r', op: 'upsert', values: { ltv: 9 }, event_time: at(2) }, // tie: a fixed rule decides
      { entity_id: 'r', op: 'delete', event_time: at(3) },
      { entity_id: 'r', op: 'upsert', values: { country: 'B' }, event_time: at(4) },
    ];
    const keys = new KeyLayout(prefix);
    const c = new Redis(redis.url);
    try {
      const states: string[] = [];
      for (let round = 0; round < 6; round++) {
        await c.del(keys.overlay('pf', 'r'));
        const order = round === 0 ? ops : round === 1 ? [...ops].reverse() : [...ops].sort(() => Math.random() - 0.5);
        for (const op of order) expect((await push(app, 'pf', [op])).status).toBe(200);
        const h = await c.hgetall(keys.overlay('pf', 'r'));
        states.push(JSON.stringify(Object.entries(h).sort()));
      }
      expect(new Set(states).size).toBe(1);
    } finally {
      c.disconnect();
    }
  });

  it('segments: add and remove by event time, marked updated', async () => {
    const { app } = await setup();
    const segs = async (id: string): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON bodies
      const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${id}/segments?dataset=ps` });
      return res.json();
    };
    expect((await segs('a')).segments).toEqual(['lapsed', 'whale']);
    expect((await push(app, 'ps', [
      { entity_id: 'a', op: 'remove', segment: 'lapsed', event_time: at(5) },
      { entity_id: 'a', op: 'add', segment: 'payer', event_time: at(5) },
      { entity_id: 'a', op: 'add', segment: 'lapsed', event_time: at(4) }, // older than the remove
      { entity_id: 'z', op: 'add', segment: 'qa', event_time: at(5) },
    ])).status).toBe(200);
    expect((await segs('a')).segments).toEqual(['payer', 'whale']);
    expect(await segs('z')).toMatchObject({ segments: ['qa'], found: true });
    expect((await features(app, 'a', 'ps')).features.segments.updated).toBe(true);
    const bad = await push(app, 'ps', [{ entity_id: 'a', op: 'upsert', values: { ltv: 1 } }, { entity_id: 'a', op: 'add' }]);
    expect(bad.body.error.items.map((i: { code: string }) => i.code)).toEqual(['INVALID_OP', 'INVALID_SEGMENT']);
  });

  it('a dataset with updates off reads no overlay (no HGETALL) and answers as before', async () => {
    const { app } = await setup();
    const c = new Redis(redis.url);
    const hgetall = async (): Promise<number> => Number(/cmdstat_hgetall:calls=(\d+)/.exec(await c.info('commandstats'))?.[1] ?? 0);
    try {
      const before = await hgetall();
      const d = await features(app, 'b', 'off');
      expect(d.features.ltv).toEqual({ value: 2, status: 'PRESENT' });
      await app.http.inject({ method: 'POST', url: '/v1/entities:batchGet', payload: { entity_ids: ['a', 'b', 'x'], datasets: ['off'] } });
      expect(await hgetall()).toBe(before);
      await features(app, 'b', 'pf');
      expect(await hgetall()).toBe(before + 1); // base row + overlay in one batch
    } finally {
      c.disconnect();
    }
  });

  it('pushing needs the admin token when one is set (the rollback rule, no API keys)', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 't.parquet');
    writePlayers(file, [{ id: 'a', ltv: 1, level: 1, country: 'US', is_payer: false, last_login: null, tags: null }]);
    const cfg = makeConfig({ serving: { admin_token: 's3cret' }, datasets: [featuresDataset('pf', file, { updates: { enabled: true } })] }, { url: redis.url });
    await load(cfg, 'pf');
    const app = await serve(cfg);
    apps.push(app);
    const payload = { updates: [{ entity_id: 'a', op: 'upsert', values: { ltv: 2 } }] };
    const denied = await app.http.inject({ method: 'POST', url: '/v1/datasets/pf/updates', payload });
    expect(denied.statusCode).toBe(401);
    const ok = await app.http.inject({ method: 'POST', url: '/v1/datasets/pf/updates', payload, headers: { authorization: 'Bearer s3cret' } });
    expect(ok.json()).toEqual({ applied: 1 });
  });

  it('the write path is usable without a server (as malt consume uses it) and throws UpdateRejected', async () => {
    const { app } = await setup();
    const wp = createUpdateWritePath(app.redis, app.config);
    expect(await wp.apply('pf', [{ entity_id: 'b', op: 'upsert', values: { country: 'JP' }, event_time: at(3) }])).toEqual({ applied: 1 });
    const err = await wp.apply('pf', [{ entity_id: 'b', op: 'upsert', values: { country: 5 } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpdateRejected);
    expect((err as UpdateRejected).items[0]).toMatchObject({ index: 0, code: 'INVALID_VALUE' });
    // The serving replica learns of it over pub/sub (its own cache was warm).
    await expect.poll(async () => (await features(app, 'b')).features.country.value, { timeout: 1000, interval: 10 }).toBe('JP');
  });
});
