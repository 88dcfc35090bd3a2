/**
 * Redis goes away under a running replica: requests that need Redis fail fast with
 * STORE_UNAVAILABLE (HTTP 503, gRPC UNAVAILABLE) within the request deadline instead of hanging,
 * /readyz says so, cached entities keep answering, and the replica recovers when Redis returns.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers, type PlayerRow } from './support/fixtures.js';
import { type TestRedis, startTestRedis } from './support/redis-server.js';

const REQUEST_TIMEOUT_MS = 200;
/** Scheduling slack on top of the request deadline (a loaded CI box, not Redis). */
const MARGIN_MS = 150;

const rows: PlayerRow[] = Array.from({ length: 20 }, (_, i) => ({
  id: `p${i}`, ltv: i * 1.5, level: BigInt(i), country: i % 2 === 0 ? 'SE' : 'DE', is_payer: i % 3 === 0,
  last_login: new Date(Date.UTC(2024, 0, 1 + i)), tags: [`t${i}`],
}));

let dir: string;
let redis: TestRedis;
let config: MaltConfig;
let app: ServingApp;
let client: ServingClient;

interface ErrorJson { error: { code: string; message: string } }
interface EntityJson { entity_id: string; datasets: { version: string; found: boolean; features: Record<string, { value: unknown; status: string }> }[] }

async function get(url: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const res = await app.http.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json(), ms: performance.now() - started };
}

async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), rows);
  redis = await startTestRedis();
  config = makeConfig({
    serving: { request_timeout_ms: REQUEST_TIMEOUT_MS, version_poll_ms: 100 },
    datasets: [featuresDataset('players', path.join(dir, 'players'))],
  }, { url: redis.url });
  await load(config, 'players');
  app = await serve(config);
  client = servingClient(`127.0.0.1:${app.grpcPort}`);
  // Warm the cache for p0 (HTTP) and p1 (gRPC) while Redis is up.
  expect((await get('/v1/entities/p0')).status).toBe(200);
  await call(client, 'Get', { entity_id: 'p1', datasets: [] });
});

afterAll(async () => {
  client?.close();
  await app?.close();
  await redis?.stop();
});

describe('Redis alive but not answering', () => {
  it('HTTP and gRPC give up at serving.request_timeout_ms with STORE_UNAVAILABLE', async () => {
    const admin = new Redis(redis.url);
    try {
      // Redis holds every client's commands for 800 ms.
      await admin.call('CLIENT', 'PAUSE', '800', 'ALL');
    } finally {
      admin.disconnect();
    }
    const http = await get('/v1/entities/p10');
    expect(http.status).toBe(503);
    expect((http.body as ErrorJson).error.code).toBe('STORE_UNAVAILABLE');
    expect(http.ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 5);
    expect(http.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);

    // The client allows 5 s; the server's own cap (request_timeout_ms) bounds the call.
    const started = performance.now();
    const err = await call(client, 'Get', { entity_id: 'p11', datasets: [] }, 5000).then(() => null, (e: unknown) => e as grpc.ServiceError);
    const ms = performance.now() - started;
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details.startsWith('STORE_UNAVAILABLE: ')).toBe(true);
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
  });
});

describe('Redis killed under a running replica', () => {
  beforeAll(async () => {
    await redis.stop();
  });

  it('HTTP lookups of uncached entities answer 503 STORE_UNAVAILABLE within the request deadline', async () => {
    for (const id of ['p2', 'p3', 'p4']) {
      const res = await get(`/v1/entities/${id}`);
      expect(res.status).toBe(503);
      expect((res.body as ErrorJson).error.code).toBe('STORE_UNAVAILABLE');
      expect((res.body as ErrorJson).error.message.length).toBeGreaterThan(0);
      expect(res.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
    }
    const batch = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ['p5', 'p0'] } });
    expect(batch.statusCode).toBe(503);
    expect((batch.json() as ErrorJson).error.code).toBe('STORE_UNAVAILABLE');
  });

  it('gRPC lookups of uncached entities answer UNAVAILABLE STORE_UNAVAILABLE within the request deadline', async () => {
    for (const id of ['p6', 'p7']) {
      const started = performance.now();
      const err = await call(client, 'Get', { entity_id: id, datasets: [] }, 5000).then(() => null, (e: unknown) => e as grpc.ServiceError);
      const ms = performance.now() - started;
      expect(err?.code).toBe(grpc.status.UNAVAILABLE);
      expect(err?.details.startsWith('STORE_UNAVAILABLE: ')).toBe(true);
      expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
    }
  });

  it('/readyz answers 503 while /healthz stays 200', async () => {
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect((ready.body as { status: string }).status).toBe('redis_unavailable');
    expect(ready.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
    expect((await get('/healthz')).status).toBe(200);
  });

  it('cached entities still answer from the in-process cache, over both transports', async () => {
    const http = await get('/v1/entities/p0');
    expect(http.status).toBe(200);
    const d = (http.body as EntityJson).datasets[0];
    expect(d?.found).toBe(true);
    expect(d?.features['ltv']).toEqual({ value: 0, status: 'PRESENT' });
    expect(d?.features['country']).toEqual({ value: 'SE', status: 'PRESENT' });
    const r = await call<{ datasets: { found: boolean; features: Record<string, { value: Record<string, unknown> | null }> }[] }>(
      client, 'Get', { entity_id: 'p1', datasets: [] });
    expect(r.datasets[0]?.found).toBe(true);
    expect(r.datasets[0]?.features['country']?.value?.['string_value']).toBe('DE');
  });

  it('recovers when a redis-server comes back on the same port', async () => {
    // The new server is empty: the replica must not crash, and must report ready again.
    redis = await startTestRedis(redis.port);
    // Redis answers again but holds no version: not ready (503 not_ready), not "ready with nulls".
    await pollUntil('/readyz to answer 503 not_ready', async () => {
      const r = await get('/readyz');
      return r.status === 503 && (r.body as { status: string }).status === 'not_ready';
    }, 5000);
    // Nothing is published in the new server: once the tracker notices, the dataset is not loaded.
    await pollUntil('players to be reported unloaded', async () => {
      const res = await get('/v1/entities/p8');
      return res.status === 503 && (res.body as ErrorJson).error.code === 'DATASET_NOT_LOADED';
    }, 5000);

    // Loading into the new server is served again without a restart. p0's ltv changed meanwhile.
    writePlayers(path.join(dir, 'players', 'part-0.parquet'), rows.map((r) => (r.id === 'p0' ? { ...r, ltv: 999 } : r)));
    await load(config, 'players');
    await pollUntil('/readyz to answer 200', async () => (await get('/readyz')).status === 200, 5000);
    // (A "no row" answered while Redis was empty may be cached for cache.negative_ttl_ms.)
    await pollUntil('p8 to be served again', async () => {
      const res = await get('/v1/entities/p8');
      return res.status === 200 && (res.body as EntityJson).datasets[0]?.found === true;
    }, 5000);
    const res = await get('/v1/entities/p8');
    expect((res.body as EntityJson).datasets[0]?.features['level']).toEqual({ value: '8', status: 'PRESENT' });
    const r = await call<{ datasets: { found: boolean }[] }>(client, 'Get', { entity_id: 'p9', datasets: [] });
    expect(r.datasets[0]?.found).toBe(true);
  });

  it('after the reload, an entity cached before Redis was lost shows the reloaded data', async () => {
    // The new server hands out version ids from 1 again; the replica must not answer from
    // entries cached for the lost server's version of the same number.
    const res = await get('/v1/entities/p0');
    expect(res.status).toBe(200);
    expect((res.body as EntityJson).datasets[0]?.features['ltv']).toEqual({ value: 999, status: 'PRESENT' });
  });
});
