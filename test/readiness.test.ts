/**
 * One readiness rule for /readyz and grpc.health.v1, driven by state changes (tracker polls,
 * Redis connection events), with one log line per transition.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServing, type ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import { type ServingClient, call } from '../src/serving/grpc-client.js';
import type { Logger } from '../src/telemetry/logger.js';
import { featuresDataset, load, makeConfig, tmpDir, writePlayers, type PlayerRow } from './support/fixtures.js';
import { type TestRedis, startTestRedis } from './support/redis-server.js';

const rows: PlayerRow[] = [{ id: 'a', ltv: 1, level: 1, country: 'SE', is_payer: true, last_login: null, tags: null }];

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string): void => void lines.push(`${level} ${m}`);
  return { lines, logger: { info: push('info'), warn: push('warn'), error: push('error') } };
}

async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function healthClient(app: ServingApp): ServingClient {
  const Health = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
  return new Health(`127.0.0.1:${app.grpcPort}`, grpc.credentials.createInsecure()) as unknown as ServingClient;
}

async function healthOf(client: ServingClient, service = ''): Promise<string> {
  return (await call<{ status: string }>(client, 'Check', { service }, 2000)).status;
}

describe('readiness follows Redis and the served versions', () => {
  let redis: TestRedis;
  let config: MaltConfig;
  let app: ServingApp;
  let health: ServingClient;
  const cap = captureLogger();

  beforeAll(async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'p', 'part-0.parquet'), rows);
    redis = await startTestRedis();
    config = makeConfig({
      serving: { request_timeout_ms: 200, version_poll_ms: 100 },
      datasets: [featuresDataset('players', path.join(dir, 'p')), featuresDataset('optional', path.join(dir, 'p'), { allow_empty: true })],
    }, { url: redis.url });
    await load(config, 'players');
    app = await startServing(config, { drainMs: 300, logger: cap.logger });
    health = healthClient(app);
  });

  afterAll(async () => {
    health?.close();
    await app?.close();
    await redis?.stop();
  });

  it('a dataset with allow_empty: true does not block readiness', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', datasets: { players: '1', optional: null } });
    expect(await healthOf(health)).toBe('SERVING');
    expect(await healthOf(health, 'malt.v1.Serving')).toBe('SERVING');
  });

  it('Redis stopped: gRPC health goes NOT_SERVING without any /readyz call, and one log line says so', async () => {
    await redis.stop();
    await pollUntil('health NOT_SERVING', async () => (await healthOf(health)) === 'NOT_SERVING');
    expect(await healthOf(health, 'malt.v1.Serving')).toBe('NOT_SERVING');
    await new Promise((r) => setTimeout(r, 400)); // several polls fail meanwhile
    expect(cap.lines.filter((l) => l.startsWith('warn redis unreachable: each dataset\'s fallback answers (cached, defaults), else 503 STORE_UNAVAILABLE'))).toHaveLength(1);
    const res = await app.http.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe('redis_unavailable');
  });

  it('Redis back but empty: /readyz 503 not_ready and health stays NOT_SERVING; loaded → SERVING again', async () => {
    redis = await startTestRedis(redis.port);
    await pollUntil('the back-but-empty line', async () => cap.lines.some((l) => l.startsWith('warn redis back: not ready: no served version of players')));
    const res = await app.http.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'not_ready', datasets: { players: null, optional: null } });
    expect(res.json().reason).toContain('players');
    expect(await healthOf(health)).toBe('NOT_SERVING');
    await load(config, 'players');
    await pollUntil('health SERVING', async () => (await healthOf(health)) === 'SERVING');
    expect((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect(cap.lines.filter((l) => l === 'info ready: serving players v1, optional (none)')).toHaveLength(2); // at start, and now
    expect(cap.lines.filter((l) => l.startsWith('warn redis unreachable'))).toHaveLength(1);
  });

  it('Redis flushed under a running replica: /readyz 503 and health NOT_SERVING', async () => {
    const admin = new Redis(redis.url);
    await admin.flushall();
    admin.disconnect();
    await pollUntil('health NOT_SERVING', async () => (await healthOf(health)) === 'NOT_SERVING');
    const res = await app.http.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe('not_ready');
  });

  it('Redis stalled (CLIENT PAUSE): a "not answering" line, then back', async () => {
    await load(config, 'players');
    await pollUntil('health SERVING', async () => (await healthOf(health)) === 'SERVING');
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '2500', 'ALL');
    admin.disconnect();
    await pollUntil('stalled line', async () => cap.lines.some((l) => l.startsWith('warn redis not answering (stalled)')), 6000);
    expect(await healthOf(health)).toBe('NOT_SERVING');
    await pollUntil('back line', async () => cap.lines.filter((l) => l.startsWith('info redis back: ready: serving players v1')).length === 1, 8000);
    expect(await healthOf(health)).toBe('SERVING');
  });
});
