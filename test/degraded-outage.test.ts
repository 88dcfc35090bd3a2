/**
 * Degraded modes when Redis is slow (SIGSTOP) or down (killed), then back (docs/degraded-modes.md):
 * requests finish within their deadline; each dataset's `fallback` answers in order — the cached
 * result marked `degraded: CACHED`, the configured defaults marked `degraded: DEFAULTS` — else
 * STORE_UNAVAILABLE; the circuit breaker makes misses fail fast instead of waiting on a dead
 * Redis, probes, and closes again without a restart; HTTP and gRPC give the same statuses.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers, type PlayerRow } from './support/fixtures.js';
import { type TestRedis, startTestRedis } from './support/redis-server.js';
import { parseProm } from './support/prom-text.js';

const REQUEST_TIMEOUT_MS = 300;
/** Scheduling slack on top of the request deadline (a loaded CI box, not Redis). */
const MARGIN_MS = 200;
const BREAKER_FAILURES = 3;
const BREAKER_OPEN_MS = 1500;

const rows: PlayerRow[] = Array.from({ length: 40 }, (_, i) => ({
  id: `p${i}`, ltv: i * 1.5, level: BigInt(i), country: i % 2 === 0 ? 'SE' : 'DE', is_payer: i % 3 === 0,
  last_login: new Date(Date.UTC(2024, 0, 1 + i)), tags: [`t${i}`],
}));

/** What a user compares across transports: found, the degraded marker and each field's status and value. */
interface Shape { found: boolean; degraded: string | null; fields: Record<string, { status: string; value: unknown }> }

let dir: string;
let redis: TestRedis;
let config: MaltConfig;
let app: ServingApp;
let client: ServingClient;

interface HttpDataset { found: boolean; degraded?: string; features: Record<string, { value: unknown; status: string }> }

async function httpGet(id: string, dataset: string): Promise<{ status: number; body: { datasets?: HttpDataset[]; error?: { code: string } }; ms: number }> {
  const started = performance.now();
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${id}?datasets=${dataset}` });
  return { status: res.statusCode, body: res.json(), ms: performance.now() - started };
}

function httpShape(d: HttpDataset): Shape {
  const fields: Shape['fields'] = {};
  for (const [k, f] of Object.entries(d.features)) fields[k] = { status: f.status, value: f.value };
  return { found: d.found, degraded: d.degraded ?? null, fields };
}

interface GrpcValue { [k: string]: unknown }
interface GrpcDataset { found: boolean; degraded: string; features: Record<string, { status: string; value: GrpcValue | null }> }

/** The gRPC value in the HTTP JSON spelling (int64 as a string, lists as arrays), for comparison. */
function plain(v: GrpcValue | null): unknown {
  if (v === null) return null;
  const kind = v['kind'] as string;
  const x = v[kind];
  if (kind === 'string_list_value') return (x as { values: string[] }).values;
  if (kind === 'timestamp_value') return 'ts';
  return x;
}

async function grpcGet(id: string, dataset: string): Promise<{ shape: Shape | null; code: string | null; ms: number }> {
  const started = performance.now();
  try {
    const r = await call<{ datasets: GrpcDataset[] }>(client, 'Get', { entity_id: id, datasets: [dataset] }, 5000);
    const d = r.datasets[0]!;
    const fields: Shape['fields'] = {};
    for (const [k, f] of Object.entries(d.features)) fields[k] = { status: f.status, value: plain(f.value) };
    return { shape: { found: d.found, degraded: d.degraded === 'NOT_DEGRADED' ? null : d.degraded, fields }, code: null, ms: performance.now() - started };
  } catch (err) {
    const e = err as grpc.ServiceError;
    expect(e.code).toBe(grpc.status.UNAVAILABLE);
    return { shape: null, code: String(e.metadata.get('malt-error-code')[0]), ms: performance.now() - started };
  }
}

/** HTTP's shape with timestamps blurred as plain() does (the two spell them differently). */
function comparable(s: Shape): Shape {
  const fields: Shape['fields'] = {};
  for (const [k, f] of Object.entries(s.fields)) fields[k] = { status: f.status, value: k === 'last_login' && f.value !== null ? 'ts' : f.value };
  return { ...s, fields };
}

async function bothTransports(id: string, dataset: string): Promise<Shape> {
  const h = await httpGet(id, dataset);
  expect(h.status, JSON.stringify(h.body)).toBe(200);
  expect(h.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
  const g = await grpcGet(id, dataset);
  expect(g.code).toBe(null);
  expect(g.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
  const shape = httpShape(h.body.datasets![0]!);
  expect(g.shape).toEqual(comparable(shape));
  return shape;
}

async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const statuses = (s: Shape): Record<string, string> => Object.fromEntries(Object.entries(s.fields).map(([k, f]) => [k, f.status]));

beforeAll(async () => {
  dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), rows);
  writeParquet(path.join(dir, 'segs', 'part-0.parquet'), [
    { name: 'player_id', type: 'string', data: ['p0', 'p0', 'p1'] },
    { name: 'segment', type: 'string', data: ['whale', 'vip', 'vip'] },
  ]);
  redis = await startTestRedis();
  const uri = path.join(dir, 'players');
  config = makeConfig({
    serving: { request_timeout_ms: REQUEST_TIMEOUT_MS, version_poll_ms: 100, breaker_failures: BREAKER_FAILURES, breaker_open_ms: BREAKER_OPEN_MS },
    datasets: [
      featuresDataset('lenient', uri, { fallback: ['cached', 'defaults'], defaults: { country: 'ZZ', level: 0 } }),
      featuresDataset('cached_only', uri, { defaults: { country: 'ZZ' } }),
      featuresDataset('strict', uri, { fallback: [] }),
      { name: 'segs', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'segs') }, key: 'player_id', segment_column: 'segment' },
    ],
  }, { url: redis.url });
  for (const d of ['lenient', 'cached_only', 'strict', 'segs']) await load(config, d);
  app = await serve(config);
  client = servingClient(`127.0.0.1:${app.grpcPort}`);
  // Cached while Redis is up: p0 in every dataset.
  for (const d of ['lenient', 'cached_only', 'strict']) {
    const s = await bothTransports('p0', d);
    expect(s.degraded).toBe(null);
    expect(s.fields['country']).toEqual({ status: 'PRESENT', value: 'SE' });
  }
  expect((await app.http.inject({ url: '/v1/entities/p0/segments?dataset=segs' })).json()).toEqual({ entity_id: 'p0', segments: ['vip', 'whale'], version: '1', found: true });
});

afterAll(async () => {
  client?.close();
  await app?.close();
  if (redis?.process.pid) {
    try {
      process.kill(redis.process.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  await redis?.stop();
});

describe('Redis stalled (SIGSTOP)', () => {
  beforeAll(() => {
    process.kill(redis.process.pid!, 'SIGSTOP');
  });

  it('a miss waits out its deadline once, then the defaults answer (degraded DEFAULTS)', async () => {
    const h = await httpGet('p5', 'lenient');
    expect(h.status).toBe(200);
    expect(h.ms).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 5);
    expect(h.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
    const d = h.body.datasets![0]!;
    expect(d.found).toBe(false);
    expect(d.degraded).toBe('DEFAULTS');
    expect(d.features['country']).toEqual({ value: 'ZZ', status: 'DEFAULTED' });
    expect(d.features['level']).toEqual({ value: '0', status: 'DEFAULTED' });
    expect(d.features['ltv']).toEqual({ value: null, status: 'UNAVAILABLE' });
  });

  it(`after ${BREAKER_FAILURES} timed-out reads the breaker opens: misses no longer wait for Redis`, async () => {
    // Failures so far: the read above. Two more open it.
    for (let i = 0; i < BREAKER_FAILURES - 1 && app.lookup.breaker.state === 'closed'; i++) await httpGet(`p${6 + i}`, 'lenient');
    expect(app.lookup.breaker.state).toBe('open');
    const before = app.lookup.degraded.counters.get('lenient', 'defaults');
    const fast = await httpGet('p9', 'lenient');
    expect(fast.status).toBe(200);
    expect(fast.body.datasets![0]!.degraded).toBe('DEFAULTS');
    // Nothing is sent to the stalled Redis, so nothing waits for the deadline.
    expect(fast.ms).toBeLessThan(REQUEST_TIMEOUT_MS / 2);
    expect(app.lookup.degraded.counters.get('lenient', 'defaults')).toBe(before + 1);
    // The counts and the breaker's state are exported on /metrics.
    const prom = parseProm((await app.http.inject({ method: 'GET', url: '/metrics' })).body);
    expect(prom.value('malt_degraded_results_total', { dataset: 'lenient', kind: 'defaults' })).toBe(before + 1);
    expect(prom.value('malt_redis_circuit_open')).toBe(1);
  });

  it('the same statuses on HTTP and gRPC: cached results marked CACHED, misses DEFAULTS', async () => {
    const cached = await bothTransports('p0', 'lenient');
    expect(cached.degraded).toBe('CACHED');
    expect(cached.found).toBe(true);
    expect(cached.fields['country']).toEqual({ status: 'PRESENT', value: 'SE' });
    const defaults = await bothTransports('p12', 'lenient');
    expect(defaults.degraded).toBe('DEFAULTS');
    expect(statuses(defaults)).toEqual({ ltv: 'UNAVAILABLE', level: 'DEFAULTED', country: 'DEFAULTED', is_payer: 'UNAVAILABLE', last_login: 'UNAVAILABLE', tags: 'UNAVAILABLE' });
    const cachedOnly = await bothTransports('p0', 'cached_only');
    expect(cachedOnly.degraded).toBe('CACHED');
  });

  it('a dataset whose fallback ends answers STORE_UNAVAILABLE (503 / UNAVAILABLE), also for cached entities under fallback: []', async () => {
    for (const [id, dataset] of [['p13', 'cached_only'], ['p0', 'strict'], ['p14', 'strict']] as const) {
      const h = await httpGet(id, dataset);
      expect(h.status).toBe(503);
      expect(h.body.error?.code).toBe('STORE_UNAVAILABLE');
      expect(h.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
      const g = await grpcGet(id, dataset);
      expect(g.code).toBe('STORE_UNAVAILABLE');
      expect(g.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
    }
    expect(app.lookup.degraded.counters.get('strict', 'unavailable')).toBeGreaterThanOrEqual(4);
  });

  it('segment calls of a cached entity say CACHED too (HTTP segments and membership, gRPC GetSegments); uncached ones fail', async () => {
    expect((await app.http.inject({ url: '/v1/entities/p0/segments?dataset=segs' })).json()).toEqual({ entity_id: 'p0', segments: ['vip', 'whale'], version: '1', found: true, degraded: 'CACHED' });
    expect((await app.http.inject({ url: '/v1/entities/p0/segments/vip?dataset=segs' })).json()).toEqual({ member: true, version: '1', degraded: 'CACHED' });
    const g = await call<{ segments: string[]; found: boolean; degraded: string }>(client, 'GetSegments', { entity_id: 'p0', dataset: 'segs' });
    expect(g).toMatchObject({ segments: ['vip', 'whale'], found: true, degraded: 'CACHED' });
    const miss = await app.http.inject({ url: '/v1/entities/p1/segments?dataset=segs' });
    expect(miss.statusCode).toBe(503);
    expect((miss.json() as { error: { code: string } }).error.code).toBe('STORE_UNAVAILABLE');
  });

  it('a batch mixes cached, defaulted and (later) fresh answers in request order', async () => {
    const res = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ['p0', 'p15'], datasets: ['lenient'] } });
    expect(res.statusCode).toBe(200);
    const r = res.json() as { results: { entity_id: string; datasets: HttpDataset[] }[] };
    expect(r.results.map((x) => [x.entity_id, x.datasets[0]!.degraded])).toEqual([['p0', 'CACHED'], ['p15', 'DEFAULTS']]);
  });

  it('resumed, the breaker probes, closes, and reads are normal again (no restart)', async () => {
    process.kill(redis.process.pid!, 'SIGCONT');
    await pollUntil('a miss to be answered from Redis', async () => {
      const h = await httpGet('p16', 'lenient');
      return h.status === 200 && h.body.datasets![0]!.degraded === undefined;
    });
    expect(app.lookup.breaker.state).toBe('closed');
    expect(parseProm((await app.http.inject({ method: 'GET', url: '/metrics' })).body).value('malt_redis_circuit_open')).toBe(0);
    const fresh = await bothTransports('p17', 'lenient');
    expect(fresh.degraded).toBe(null);
    expect(fresh.fields['country']).toEqual({ status: 'PRESENT', value: 'DE' });
    expect((await bothTransports('p0', 'strict')).degraded).toBe(null);
    expect((await app.http.inject({ url: '/v1/entities/p0/segments?dataset=segs' })).json()).not.toHaveProperty('degraded');
    expect(await call(client, 'GetSegments', { entity_id: 'p0', dataset: 'segs' })).toMatchObject({ degraded: 'NOT_DEGRADED' });
  });
});

describe('Redis killed, then a new one started', () => {
  beforeAll(async () => {
    await redis.stop();
  });

  it('misses answer at once from the fallback; cached entities are marked CACHED', async () => {
    await pollUntil('the breaker to open', async () => {
      await httpGet('p20', 'lenient');
      return app.lookup.breaker.state !== 'closed';
    });
    const miss = await bothTransports('p21', 'lenient');
    expect(miss.degraded).toBe('DEFAULTS');
    const hit = await bothTransports('p17', 'lenient');
    expect(hit.degraded).toBe('CACHED');
    expect(hit.fields['country']).toEqual({ status: 'PRESENT', value: 'DE' });
    const strict = await httpGet('p0', 'strict');
    expect(strict.status).toBe(503);
    expect(strict.ms).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
  });

  it('recovers when Redis returns and the datasets are loaded again', async () => {
    redis = await startTestRedis(redis.port);
    for (const d of ['lenient', 'cached_only', 'strict', 'segs']) await load(config, d);
    await pollUntil('normal reads', async () => {
      const h = await httpGet('p22', 'lenient');
      return h.status === 200 && h.body.datasets![0]!.degraded === undefined && h.body.datasets![0]!.found;
    });
    const s = await bothTransports('p23', 'lenient');
    expect(s.degraded).toBe(null);
    expect(s.fields['country']).toEqual({ status: 'PRESENT', value: 'DE' });
    expect(app.lookup.breaker.state).toBe('closed');
  });
});
