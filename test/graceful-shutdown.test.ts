/**
 * Graceful shutdown of `malt serve` on SIGTERM, with requests in flight on both transports: Redis
 * is SIGSTOPped so lookups park inside the server, SIGTERM arrives, new connections are refused,
 * Redis resumes, and every in-flight request completes with its data; the process exits 0 within
 * the drain timeout (5 s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, servingClient } from '../src/serving/grpc-client.js';
import { MALT_BIN } from './support/cli-runner.js';
import { featuresDataset, load, makeConfig, tmpDir, uniquePrefix, writePlayers, type PlayerRow } from './support/fixtures.js';
import { type TestRedis, startTestRedis } from './support/redis-server.js';

const DRAIN_MS = 5000;
const IN_FLIGHT = 6;

const rows: PlayerRow[] = Array.from({ length: 20 }, (_, i) => ({
  id: `p${i}`, ltv: i, level: BigInt(i), country: 'SE', is_payer: false, last_login: null, tags: null,
}));

let redis: TestRedis;
let child: ChildProcess;
let stderr = '';
let httpPort = 0;
let grpcPort = 0;

async function waitFor(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET on a connection of its own; resolves with the status and body, or the socket error's code. */
function httpGet(id: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: httpPort, path: `/v1/entities/${id}`, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

beforeAll(async () => {
  const dir = tmpDir();
  const uri = path.join(dir, 'players');
  writePlayers(path.join(uri, 'part-0.parquet'), rows);
  redis = await startTestRedis();
  const doc = {
    redis: { url: redis.url, key_prefix: uniquePrefix() },
    // Requests wait on the stopped Redis for as long as the test needs (no deadline, no breaker).
    serving: { host: '127.0.0.1', http_port: 0, grpc_port: 0, request_timeout_ms: 30_000, breaker_failures: 10_000 },
    auth: 'none',
    datasets: [featuresDataset('players', uri)],
  };
  await load(makeConfig(doc, { url: redis.url, prefix: doc.redis.key_prefix }), 'players');
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, JSON.stringify(doc));
  child = spawn(process.execPath, [MALT_BIN, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d) => (stderr += d));
  await waitFor('the server to listen', () => /HTTP on http:\/\/127\.0\.0\.1:\d+, gRPC on 127\.0\.0\.1:\d+/.test(stderr));
  const m = /HTTP on http:\/\/127\.0\.0\.1:(\d+), gRPC on 127\.0\.0\.1:(\d+)/.exec(stderr)!;
  httpPort = Number(m[1]);
  grpcPort = Number(m[2]);
});

afterAll(async () => {
  try {
    process.kill(redis.process.pid!, 'SIGCONT');
  } catch {
    /* gone */
  }
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  await redis?.stop();
});

describe('SIGTERM with requests in flight', () => {
  it('drains HTTP and gRPC requests to completion, refuses new connections, exits 0 within the drain timeout', async () => {
    const exit = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: performance.now() })));
    const client = servingClient(`127.0.0.1:${grpcPort}`);
    // One warm-up call so the gRPC connection exists before the shutdown (it is "in flight" traffic).
    await call(client, 'Get', { entity_id: 'p19', datasets: [] });

    process.kill(redis.process.pid!, 'SIGSTOP');
    const httpCalls = Array.from({ length: IN_FLIGHT }, (_, i) => httpGet(`p${i}`));
    const grpcCalls = Array.from({ length: IN_FLIGHT }, (_, i) => call<{ entity_id: string; datasets: { found: boolean; features: Record<string, { status: string }> }[] }>(
      client, 'Get', { entity_id: `p${IN_FLIGHT + i}`, datasets: [] }, 20_000).then((r) => ({ r }), (e: grpc.ServiceError) => ({ e })));
    // The requests are parked on the stopped Redis; nothing the server exposes says so, so give
    // the sockets time to deliver them.
    await new Promise((r) => setTimeout(r, 500));

    const termAt = performance.now();
    child.kill('SIGTERM');
    await waitFor('the shutdown to begin', () => /SIGTERM: shutting down/.test(stderr));

    // New work is refused while the old drains: no new HTTP connection, no new gRPC call.
    const fresh = await httpGet('p1');
    expect(fresh).toEqual({ error: 'ECONNREFUSED' });
    const freshClient = servingClient(`127.0.0.1:${grpcPort}`);
    const refused = await call(freshClient, 'Get', { entity_id: 'p2', datasets: [] }, 2000).then(() => null, (e: grpc.ServiceError) => e);
    freshClient.close();
    expect(refused?.code).toBe(grpc.status.UNAVAILABLE);
    expect(child.exitCode).toBe(null);

    process.kill(redis.process.pid!, 'SIGCONT');
    const httpResults = await Promise.all(httpCalls);
    const grpcResults = await Promise.all(grpcCalls);
    for (const [i, h] of httpResults.entries()) {
      expect(h, JSON.stringify(h)).toHaveProperty('status', 200);
      const body = JSON.parse((h as { body: string }).body) as { entity_id: string; datasets: { found: boolean; features: Record<string, { value: unknown; status: string }> }[] };
      expect(body.entity_id).toBe(`p${i}`);
      expect(body.datasets[0]!.found).toBe(true);
      expect(body.datasets[0]!.features['ltv']).toEqual({ value: i, status: 'PRESENT' });
    }
    for (const [i, g] of grpcResults.entries()) {
      expect('r' in g, 'e' in g ? `${g.e.code} ${g.e.details}` : '').toBe(true);
      const r = (g as { r: { entity_id: string; datasets: { found: boolean; features: Record<string, { status: string }> }[] } }).r;
      expect(r.entity_id).toBe(`p${IN_FLIGHT + i}`);
      expect(r.datasets[0]!.found).toBe(true);
      expect(r.datasets[0]!.features['ltv']!.status).toBe('PRESENT');
    }
    client.close();

    const { code, at } = await exit;
    expect(code).toBe(0);
    expect(at - termAt).toBeLessThan(DRAIN_MS + 1000);
    expect(stderr).not.toMatch(/close: .* failed/);
  });
});
