/**
 * Updates against batch versions (docs/updates.md): updates pushed before, during and after a
 * load and across a rollback, checked player by player against a model of the rules (an update
 * applies on top of a version iff its event time is after the version's as-of time; otherwise
 * the batch wins); and the per-key ticket: a read that was in flight when an update landed
 * cannot put the old value back into the cache (the Redis reply is held by a proxy).
 */
import { utimesSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { loadDataset } from '../src/loaders/load-dataset.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { createUpdateWritePath, type UpdateItem } from '../src/updates/write-path.js';
import { appsClosedAfterAll, load, makeConfig, ownRedis, serve, tmpDir } from './support/fixtures.js';

const redis = ownRedis();
const apps = appsClosedAfterAll();
const PLAYERS = 40;
const HOUR = 3_600_000;

function writeTable(file: string, base: number, asOf: Date): void {
  const ids = Array.from({ length: PLAYERS }, (_, i) => `p${i}`);
  writeParquet(file, [
    { name: 'player_id', type: 'string', data: ids, nullable: false },
    { name: 'ltv', type: 'double', data: ids.map((_, i) => base + i) },
    { name: 'level', type: 'int64', data: ids.map((_, i) => base + i) },
  ]);
  utimesSync(file, asOf, asOf); // Parquet as-of: the newest file's mtime
}

interface Op { id: string; t: number; col: 'ltv' | 'level' | null; value: number }

/** The rules: per column, the latest of {the batch at its as-of time, later upserts, later deletes}. */
function expected(ops: readonly Op[], base: number, asOf: number, i: number): { found: boolean; ltv: number | null; level: number | null } {
  const mine = ops.filter((o) => o.id === `p${i}` && o.t > asOf);
  const lastDelete = Math.max(-Infinity, ...mine.filter((o) => o.col === null).map((o) => o.t));
  const baseAlive = lastDelete === -Infinity;
  const out: { found: boolean; ltv: number | null; level: number | null } = { found: baseAlive, ltv: baseAlive ? base + i : null, level: baseAlive ? base + i : null };
  for (const col of ['ltv', 'level'] as const) {
    const ups = mine.filter((o) => o.col === col && o.t > lastDelete).sort((a, b) => b.t - a.t);
    if (ups[0]) { out[col] = ups[0].value; out.found = true; }
  }
  return out;
}

function randomOps(n: number, from: number, to: number, seed: number): Op[] {
  let s = seed;
  const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const used = new Set<number>();
  return Array.from({ length: n }, () => {
    let t = Math.floor(from + rnd() * (to - from));
    while (used.has(t)) t++; // distinct event times: no ties in the model
    used.add(t);
    const kind = rnd();
    return { id: `p${Math.floor(rnd() * PLAYERS)}`, t, col: kind < 0.1 ? null : kind < 0.55 ? 'ltv' : 'level', value: Math.floor(rnd() * 1000) } as Op;
  });
}

const toItem = (o: Op): UpdateItem => (o.col === null
  ? { entity_id: o.id, op: 'delete', event_time: new Date(o.t).toISOString() }
  : { entity_id: o.id, op: 'upsert', values: { [o.col]: o.col === 'level' ? String(o.value) : o.value }, event_time: new Date(o.t).toISOString() });

async function check(app: ServingApp, ops: readonly Op[], base: number, asOf: number, version: string): Promise<void> {
  const ids = Array.from({ length: PLAYERS }, (_, i) => `p${i}`);
  const res = await app.lookup.get(ids, ['hv']);
  const got = res.map((r) => {
    const o = r.datasets[0]!.toObject();
    expect(o.version).toBe(version);
    const ltv = o.features['ltv']!.value as number | null;
    const level = o.features['level']!.value as string | null;
    return { found: o.found, ltv, level: level === null ? null : Number(level) };
  });
  expect(got).toEqual(ids.map((_, i) => expected(ops, base, asOf, i)));
}

describe('updates across versions', () => {
  it('before, during and after a load and across a rollback, every player matches the model', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'hv.parquet');
    const now = Date.now();
    const t1 = now - 5 * HOUR;
    const t2 = now - 3 * HOUR;
    writeTable(file, 0, new Date(t1));
    const cfg = makeConfig({ datasets: [{ name: 'hv', kind: 'features', source: { format: 'parquet', uri: file }, key: 'player_id', columns: { ltv: 'double', level: 'int64' }, updates: { enabled: true } }] }, { url: redis.url });
    await load(cfg, 'hv');
    const app = await serve(cfg);
    apps.push(app);
    const wp = createUpdateWritePath(app.redis, cfg);
    // Before the next load: event times spread over both versions' as-of times.
    const before = randomOps(300, t1 - HOUR, now, 7);
    for (let i = 0; i < before.length; i += 50) await wp.apply('hv', before.slice(i, i + 50).map(toItem));
    await check(app, before, 0, t1, '1');
    // During the load: pushes land while version 2 is being written.
    writeTable(file, 1000, new Date(t2));
    const r = new Redis(redis.url);
    const loading = loadDataset(r, cfg, cfg.datasets[0]!, {});
    const during = randomOps(100, t2 - HOUR, now, 11);
    for (let i = 0; i < during.length; i += 25) await wp.apply('hv', during.slice(i, i + 25).map(toItem));
    await loading;
    r.disconnect();
    await app.tracker.refreshAll();
    const after = randomOps(100, t1, now, 13);
    await wp.apply('hv', after.map(toItem));
    const all = [...before, ...during, ...after];
    await check(app, all, 1000, t2, '2');
    // Rollback to version 1: updates newer than version 1's as-of time apply again.
    const rb = await app.http.inject({ method: 'POST', url: '/v1/datasets/hv/rollback', payload: {} });
    expect(rb.statusCode, rb.body).toBe(200);
    await check(app, all, 0, t1, '1');
  });

  it('reclaim drops overlay entries once every kept version is newer than them', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'rc.parquet');
    const now = Date.now();
    writeTable(file, 0, new Date(now - 5 * HOUR));
    const cfg = makeConfig({ datasets: [{ name: 'hv', kind: 'features', source: { format: 'parquet', uri: file }, key: 'player_id', columns: { ltv: 'double', level: 'int64' }, keep_versions: 2, updates: { enabled: true } }], loader: { reclaim_grace_ms: 0 } }, { url: redis.url });
    await load(cfg, 'hv');
    const r = new Redis(redis.url);
    try {
      const wp = createUpdateWritePath(r, cfg);
      await wp.apply('hv', [{ entity_id: 'p0', op: 'upsert', values: { ltv: 5 }, event_time: new Date(now - 4 * HOUR).toISOString() }, { entity_id: 'p1', op: 'upsert', values: { ltv: 6 } }]);
      const keys = new (await import('../src/keys.js')).KeyLayout(cfg.redis.keyPrefix);
      expect(await r.zcard(keys.overlayIndex('hv'))).toBe(2);
      writeTable(file, 10, new Date(now - 3 * HOUR));
      await load(cfg, 'hv');
      expect(await r.exists(keys.overlay('hv', 'p0'))).toBe(1); // version 1 (older than the update) is still kept
      writeTable(file, 20, new Date(now - 2 * HOUR));
      await load(cfg, 'hv'); // version 1 reclaimed: every kept version is newer than p0's update
      expect(await r.exists(keys.overlay('hv', 'p0'))).toBe(0);
      expect(await r.zrange(keys.overlayIndex('hv'), '0', '-1')).toEqual(['p1']);
      expect(await r.pttl(keys.overlay('hv', 'p1'))).toBeGreaterThan(6 * 24 * HOUR); // bounded by updates.retention (7 d)
    } finally {
      r.disconnect();
    }
  });

  it('an in-flight read that began before an update does not put the old value back in the cache', { timeout: 15_000 }, async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'race.parquet');
    writeTable(file, 0, new Date(Date.now() - HOUR));
    const upstream = new URL(redis.url);
    // A proxy to Redis that can hold the replies of data connections (not the subscriber's).
    let hold = false;
    const held: (() => void)[] = [];
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(upstream.port), upstream.hostname);
      let subscriber = false;
      client.on('data', (d) => {
        if (/subscribe/i.test(d.toString('latin1'))) subscriber = true;
        server.write(d);
      });
      server.on('data', (d) => {
        if (hold && !subscriber) held.push(() => client.write(d));
        else client.write(d);
      });
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
      server.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as net.AddressInfo).port;
    let app: ServingApp | undefined;
    try {
      const base = { name: 'hv', kind: 'features', source: { format: 'parquet', uri: file }, key: 'player_id', columns: { ltv: 'double', level: 'int64' }, updates: { enabled: true } };
      const direct = makeConfig({ datasets: [base] }, { url: redis.url });
      await load(direct, 'hv');
      const viaProxy = makeConfig({ datasets: [base], serving: { request_timeout_ms: 10_000 } }, { url: `redis://127.0.0.1:${port}`, prefix: direct.redis.keyPrefix });
      const served = await serve(viaProxy);
      app = served;
      hold = true;
      const inflight = served.lookup.get(['p1'], ['hv']); // its reply is held: it read the old row
      await expect.poll(() => served.lookup.cache.stats.misses, { interval: 5 }).toBe(1);
      const writer = new Redis(redis.url);
      await createUpdateWritePath(writer, direct).apply('hv', [{ entity_id: 'p1', op: 'upsert', values: { ltv: 555 } }]);
      writer.disconnect();
      await expect.poll(() => served.lookup.cache.stats.invalidations, { interval: 5 }).toBeGreaterThan(0);
      hold = false;
      for (const release of held.splice(0)) release();
      const stale = await inflight;
      expect(stale[0]!.datasets[0]!.toObject().features['ltv']!.value).toBe(1); // answered as read…
      const fresh = await served.lookup.get(['p1'], ['hv']); // …but not cached: the next read sees the update
      expect(fresh[0]!.datasets[0]!.toObject().features['ltv']).toEqual({ value: 555, status: 'PRESENT', updated: true });
    } finally {
      hold = false;
      for (const release of held.splice(0)) release();
      await app?.close();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
