/**
 * /metrics of a real `malt serve` process: after HTTP and gRPC requests, loads (one published,
 * one refused) and entries on an updates stream, the exposition parses strictly and the
 * counters and histograms moved with the right labels.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { call, servingClient } from '../src/serving/grpc-client.js';
import { featuresDataset, redisUrl, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { MALT_BIN, runMalt } from './support/cli-runner.js';
import { freePort } from './support/redis-server.js';
import { type PromExposition, parseProm } from './support/prom-text.js';

const row = (id: string, ltv: number) => ({ id, ltv, level: 1, country: 'DE', is_payer: true, last_login: new Date('2026-01-01T00:00:00Z'), tags: ['a'] });

let server: ChildProcess | undefined;
let base = '';
let grpcAddr = '';
let prefix = '';
let stream = '';
let redis: Redis;

async function scrape(): Promise<{ res: Response; prom: PromExposition }> {
  const res = await fetch(`${base}/metrics`);
  const text = await res.text();
  return { res, prom: parseProm(text) };
}

beforeAll(async () => {
  const dir = tmpDir();
  const lake = path.join(dir, 'p.parquet');
  writePlayers(lake, [row('a', 1), row('b', 2), row('c', 3)]);
  prefix = uniquePrefix();
  stream = `${prefix}:updates`;
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, stringify({
    datasets: [
      featuresDataset('mx_pf', lake, { updates: { enabled: true }, updates_stream: stream }),
      featuresDataset('mx_gated', lake, { checks: { min_rows: 1000 } }),
    ],
  }));
  const [http, grpcPort] = [await freePort(), await freePort()];
  const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix, MALT_HTTP_PORT: String(http), MALT_GRPC_PORT: String(grpcPort) };
  expect((await runMalt(['load', 'mx_pf', '-c', file], env)).code).toBe(0);
  expect((await runMalt(['load', 'mx_gated', '-c', file], env)).code).toBe(3); // refused: min_rows
  server = spawn(process.execPath, [MALT_BIN, 'serve', '-c', file], { env: { ...process.env, ...env }, stdio: 'ignore' });
  base = `http://127.0.0.1:${http}`;
  grpcAddr = `127.0.0.1:${grpcPort}`;
  redis = new Redis(redisUrl());
  const deadline = Date.now() + 60_000;
  for (;;) {
    const up = await fetch(`${base}/healthz`).then((r) => r.status === 200, () => false);
    if (up) break;
    if (Date.now() > deadline) throw new Error('malt serve did not start within 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});

describe('GET /metrics of malt serve', () => {
  it('records HTTP routes, gRPC methods, errors by code, cache and Redis, with sub-millisecond buckets', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/v1/entities/a?datasets=mx_pf`)).status).toBe(200);
    const missing = await fetch(`${base}/v1/entities/a?datasets=nope`);
    expect(missing.status).toBe(404);
    const batch = await fetch(`${base}/v1/entities/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ entity_ids: ['a', 'b', 'zz'], datasets: ['mx_pf'] }) });
    expect(batch.status).toBe(200);
    const client = servingClient(grpcAddr);
    try {
      await call(client, 'Get', { entity_id: 'a', datasets: ['mx_pf'] });
      await call(client, 'Get', { entity_id: 'b', datasets: ['mx_pf'] });
      await expect(call(client, 'Get', { entity_id: 'a', datasets: ['nope'] })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
    }

    const { res, prom } = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const entity = { method: 'GET', route: '/v1/entities/:id', status: '200' };
    expect(prom.types.get('malt_http_request_duration_seconds')).toBe('histogram');
    expect(prom.value('malt_http_request_duration_seconds_count', entity)).toBe(3);
    expect(prom.value('malt_http_request_duration_seconds_count', { method: 'GET', route: '/v1/entities/:id', status: '404' })).toBe(1);
    expect(prom.value('malt_http_request_duration_seconds_count', { method: 'POST', route: '/v1/entities/batch', status: '200' })).toBe(1);
    // Cumulative buckets, sub-millisecond bounds, +Inf = count, and a plausible sum.
    const buckets = prom.find('malt_http_request_duration_seconds_bucket', entity);
    const les = buckets.map((b) => b.labels['le']);
    expect(les).toEqual(expect.arrayContaining(['0.00005', '0.0001', '0.00025', '0.0005', '0.001', '+Inf']));
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)).toMatchObject({ labels: { le: '+Inf' }, value: 3 });
    const sum = prom.value('malt_http_request_duration_seconds_sum', entity);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(3);

    expect(prom.value('malt_grpc_request_duration_seconds_count', { method: 'Get', code: 'OK' })).toBe(2);
    expect(prom.value('malt_grpc_request_duration_seconds_count', { method: 'Get', code: 'NOT_FOUND' })).toBe(1);
    expect(prom.value('malt_errors_total', { transport: 'http', code: 'DATASET_NOT_FOUND' })).toBe(1);
    expect(prom.value('malt_errors_total', { transport: 'grpc', code: 'DATASET_NOT_FOUND' })).toBe(1);

    // a: read once, then cached; b and zz read by the batch (zz: a cached miss), b then a hit on gRPC.
    expect(prom.value('malt_cache_misses_total')).toBe(3);
    expect(prom.value('malt_cache_hits_total')).toBe(5);
    expect(prom.value('malt_cache_entries')).toBe(3);
    expect(prom.value('malt_cache_bytes')).toBeGreaterThan(0);
    expect(prom.value('malt_cache_max_bytes')).toBe(64 * 1024 * 1024);
    // Round trips: a alone, then one pipeline for b and zz (commands: base rows plus update overlays).
    expect(prom.value('malt_redis_command_duration_seconds_count', { op: 'read' })).toBe(2);
    expect(prom.value('malt_redis_commands_total', { op: 'read' })).toBe(6);
    expect(prom.value('malt_redis_up')).toBe(1);
    // Process metrics from prom-client.
    expect(prom.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(prom.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('exports the served version and snapshot age per dataset, and the outcome of the newest load', async () => {
    const { prom } = await scrape();
    expect(prom.value('malt_dataset_version', { dataset: 'mx_pf' })).toBe(1);
    expect(prom.find('malt_dataset_version', { dataset: 'mx_gated' })).toEqual([]); // refused: nothing served
    const asOf = prom.value('malt_dataset_as_of_timestamp_seconds', { dataset: 'mx_pf' });
    expect(asOf).toBeGreaterThan(Date.parse('2020-01-01') / 1000);
    expect(asOf).toBeLessThanOrEqual(Date.now() / 1000);
    const age = prom.value('malt_dataset_snapshot_age_seconds', { dataset: 'mx_pf' });
    expect(Math.abs(age - (Date.now() / 1000 - asOf))).toBeLessThan(5);
    expect(prom.value('malt_load_last_outcome', { dataset: 'mx_pf', outcome: 'published' })).toBe(1);
    expect(prom.value('malt_load_last_outcome', { dataset: 'mx_pf', outcome: 'refused' })).toBe(0);
    expect(prom.value('malt_load_last_outcome', { dataset: 'mx_gated', outcome: 'refused' })).toBe(1);
    expect(prom.value('malt_load_refused_versions', { dataset: 'mx_gated' })).toBe(1);
    expect(prom.value('malt_load_rows', { dataset: 'mx_pf' })).toBe(3);
    expect(prom.value('malt_load_duration_seconds', { dataset: 'mx_pf' })).toBeGreaterThan(0);
    expect(prom.find('malt_metrics_collect_errors_total')).toEqual([]);
  });

  it('exports the consumer-group lag of an updates stream, read from Redis', async () => {
    await redis.xgroup('CREATE', stream, 'malt', '0', 'MKSTREAM');
    const first = await redis.xadd(stream, '*', 'entity_id', 'a', 'op', 'upsert', 'values', '{"ltv":5}');
    await redis.xadd(stream, '*', 'entity_id', 'b', 'op', 'upsert', 'values', '{"ltv":6}');
    const labels = { dataset: 'mx_pf', stream, group: 'malt' };
    let { prom } = await scrape();
    expect(prom.value('malt_stream_lag_entries', labels)).toBe(2);
    expect(prom.value('malt_stream_pending_entries', labels)).toBe(0);
    const lagSeconds = prom.value('malt_stream_lag_seconds', labels);
    expect(lagSeconds).toBeGreaterThanOrEqual(0);
    expect(lagSeconds).toBeLessThanOrEqual((Date.now() - Number(String(first).split('-')[0])) / 1000 + 0.01);
    // One entry read by a consumer and not acknowledged: pending 1, lag 1.
    await redis.xreadgroup('GROUP', 'malt', 'c1', 'COUNT', 1, 'STREAMS', stream, '>');
    ({ prom } = await scrape());
    expect(prom.value('malt_stream_lag_entries', labels)).toBe(1);
    expect(prom.value('malt_stream_pending_entries', labels)).toBe(1);
  });

  it('echoes a caller\'s x-request-id and generates one otherwise, on the fast path and on errors', async () => {
    const given = await fetch(`${base}/v1/entities/a?datasets=mx_pf`, { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-abc.123');
    const generated = await fetch(`${base}/v1/entities/a?datasets=nope`);
    const id = generated.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    const next = (await fetch(`${base}/v1/entities/a?datasets=mx_pf`)).headers.get('x-request-id');
    expect(next).not.toBe(id);
    // A value that is not a plain token (spaces, over 128 characters) is replaced.
    const bad = await fetch(`${base}/v1/entities/a?datasets=mx_pf`, { headers: { 'x-request-id': 'x'.repeat(129) } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-/);
  });
});
