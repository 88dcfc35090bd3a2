/**
 * The native open-loop load generator (bench/loadgen, Go): built the way bench/tails.mjs builds
 * it (GOPATH mode over Debian's grpc-go sources, no downloads), then run for about a second
 * against a real malt (gRPC Get and BatchGet, HTTP GET) and against a deliberately slow server,
 * where open-loop latency must include the queue the server causes (no coordinated omission).
 */
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';

interface LoadgenResult {
  sent: number; ok: number; errors: number; errorKinds: Record<string, number>; achievedRate: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  generator: { cpuSeconds: number; cpuFraction: number; maxInflight: number };
  sendLagMs?: { p99: number };
}

let bin: string;
let app: ServingApp;

/** The bench's own build (cached under bench/.data/loadgen by a hash of the Go sources). */
function buildLoadgen(): { bin?: string; missing?: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    "import { buildLoadgen } from './bench/lib/loadgen-build.mjs'; console.log(JSON.stringify(buildLoadgen()));"], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { bin?: string; missing?: string };
}

function loadgen(args: string[]): Promise<LoadgenResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadgenResult) : reject(new Error(`loadgen exited ${code}: ${err}`))));
  });
}

beforeAll(async () => {
  const built = buildLoadgen();
  if (!built.bin) throw new Error(`the load generator did not build: ${built.missing}`);
  bin = built.bin;
  const dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), [
    { id: 'p1', ltv: 1.5, level: 3n, country: 'SE', is_payer: true, last_login: new Date(0), tags: ['a'] },
    { id: 'p2', ltv: 2.5, level: 4n, country: 'FI', is_payer: false, last_login: null, tags: [] },
  ]);
  const config = makeConfig({ serving: { host: '127.0.0.1' }, datasets: [featuresDataset('players', path.join(dir, 'players'))] });
  await load(config, 'players');
  app = await serve(config);
}, 300_000);

afterAll(async () => {
  await app?.close();
});

describe('bench/loadgen against malt', () => {
  it('sends gRPC Get at the offered rate and gets correct answers', async () => {
    const r = await loadgen(['-mode', 'grpc', '-target', `127.0.0.1:${app.grpcPort}`, '-method', 'Get', '-ids', 'p1,p2', '-rate', '400', '-duration', '1s', '-warmup', '200ms', '-conns', '2']);
    expect(r.errors, JSON.stringify(r.errorKinds)).toBe(0);
    expect(r.ok).toBe(r.sent);
    expect(r.sent).toBeGreaterThanOrEqual(395);
    expect(r.sent).toBeLessThanOrEqual(405);
    expect(r.achievedRate).toBeGreaterThan(350);
    expect(r.latencyMs.p50).toBeGreaterThan(0);
    expect(r.generator.cpuSeconds).toBeGreaterThan(0);
  });

  it('checks each response: BatchGet answers one result per id, in order; an unknown method is an error', async () => {
    const ok = await loadgen(['-mode', 'grpc', '-target', `127.0.0.1:${app.grpcPort}`, '-method', 'BatchGet', '-ids', 'p2,p1,p2', '-rate', '100', '-duration', '500ms', '-warmup', '0s']);
    expect(ok.errors).toBe(0);
    expect(ok.ok).toBe(ok.sent);
    const bad = await loadgen(['-mode', 'http', '-target', `http://127.0.0.1:${app.httpPort}/v1/nope/`, '-ids', 'p1', '-rate', '50', '-duration', '200ms', '-warmup', '0s'])
      .catch((e: Error) => e);
    // The first call is made before the run starts; a wrong target fails loudly, not as a fast run of 404s.
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toMatch(/first call failed: HTTP 404/);
  });

  it('sends HTTP GET the same way', async () => {
    const r = await loadgen(['-mode', 'http', '-target', `http://127.0.0.1:${app.httpPort}/v1/entities/`, '-ids', 'p1,p2', '-rate', '400', '-duration', '1s', '-warmup', '200ms', '-conns', '2']);
    expect(r.errors, JSON.stringify(r.errorKinds)).toBe(0);
    expect(r.ok).toBe(r.sent);
    expect(r.sent).toBeGreaterThanOrEqual(395);
  });
});

describe('bench/loadgen open loop', () => {
  it('counts latency from the intended send time: a server that falls behind is charged for its queue', async () => {
    // Answers one request every 5 ms, in arrival order: 200/s at most. Offered 400/s for 1 s, the
    // i-th call (intended at i × 2.5 ms) is answered near (i + 1) × 5 ms, so its latency grows to
    // about 1 s and the median is near 500 ms. Timed from when a connection was free (closed
    // loop), each would see only the 4 requests ahead of it: about 20 ms.
    const queue: http.ServerResponse[] = [];
    let busy = false;
    const next = (): void => {
      const res = queue.shift();
      if (!res) { busy = false; return; }
      busy = true;
      setTimeout(() => { res.end('{"entity_id":"p1"}'); next(); }, 5);
    };
    const slow = http.createServer((_req, res) => {
      queue.push(res);
      if (!busy) next();
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const port = (slow.address() as AddressInfo).port;
      const r = await loadgen(['-mode', 'http', '-target', `http://127.0.0.1:${port}/`, '-ids', 'p1', '-rate', '400', '-duration', '1s', '-warmup', '0s', '-conns', '4']);
      expect(r.errors).toBe(0);
      expect(r.achievedRate).toBeLessThan(300);
      expect(r.latencyMs.p50).toBeGreaterThan(250);
      expect(r.latencyMs.max).toBeGreaterThan(700);
      // The generator itself kept to the schedule.
      expect(r.sendLagMs?.p99 ?? Infinity).toBeLessThan(50);
    } finally {
      await new Promise((resolve) => slow.close(resolve));
    }
  });
});
