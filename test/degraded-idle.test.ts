/**
 * An idle `malt serve` whose Redis is gone stays quiet (docs/degraded-modes.md): little CPU
 * (ioredis reconnects at most once a second, the pointer poll fails at once, nothing spins) and
 * a bounded number of log lines, measured on the real CLI process through /proc; when Redis comes
 * back it serves again without a restart.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MALT_BIN } from './support/cli-runner.js';
import { featuresDataset, load, makeConfig, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { type TestRedis, startTestRedis } from './support/redis-server.js';

const WINDOW_MS = 5000;
/** Generous: a quiet process uses a few ms per second; a reconnect or poll loop that spins uses hundreds. */
const MAX_CPU_FRACTION = 0.05;

let dir: string;
let redis: TestRedis;
let child: ChildProcess;
let stderr = '';
let httpPort = 0;

/** utime + stime of a process in ms (/proc/<pid>/stat fields 14 and 15, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function get(id: string): Promise<{ status: number; body: { datasets?: { degraded?: string; found: boolean }[] } }> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/v1/entities/${id}`);
  return { status: res.status, body: await res.json() as { datasets?: { degraded?: string; found: boolean }[] } };
}

beforeAll(async () => {
  dir = tmpDir();
  const uri = path.join(dir, 'players');
  writePlayers(path.join(uri, 'part-0.parquet'), [{ id: 'a', ltv: 1, level: 1n, country: 'SE', is_payer: true, last_login: null, tags: null }]);
  redis = await startTestRedis();
  const doc = {
    redis: { url: redis.url, key_prefix: uniquePrefix() },
    serving: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
    auth: 'none',
    datasets: [featuresDataset('players', uri)],
  };
  await load(makeConfig(doc, { url: redis.url, prefix: doc.redis.key_prefix }), 'players');
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, JSON.stringify(doc)); // JSON is YAML
  child = spawn(process.execPath, [MALT_BIN, 'serve', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d) => (stderr += d));
  await waitFor('the server to listen', () => /HTTP on http:\/\/127\.0\.0\.1:(\d+)/.test(stderr));
  httpPort = Number(/HTTP on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)![1]);
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await redis?.stop();
});

describe('malt serve with its Redis gone', () => {
  it(`uses under ${MAX_CPU_FRACTION * 100}% of a core over ${WINDOW_MS / 1000} s idle, and logs a few lines, not a line per retry`, async () => {
    expect((await get('a')).status).toBe(200); // cached from here on
    await redis.stop();
    await waitFor('the outage to be noticed', () => /redis unreachable/.test(stderr));
    const linesBefore = stderr.split('\n').length;
    const before = cpuMs(child.pid!);
    await new Promise((r) => setTimeout(r, WINDOW_MS));
    const used = cpuMs(child.pid!) - before;
    const newLines = stderr.split('\n').slice(linesBefore - 1).filter((l) => l.trim() !== '');
    console.log(`idle serve without Redis: ${used} ms CPU in ${WINDOW_MS} ms (${((used / WINDOW_MS) * 100).toFixed(1)}%), ${newLines.length} log lines`);
    expect(used).toBeLessThan(WINDOW_MS * MAX_CPU_FRACTION);
    expect(newLines.length).toBeLessThanOrEqual(3);
    expect(child.exitCode).toBe(null);
    // Still answering meanwhile: the cached entity, marked.
    const cached = await get('a');
    expect(cached.status).toBe(200);
    expect(cached.body.datasets![0]!.degraded).toBe('CACHED');
  });

  it('serves again once a Redis is back and the dataset loaded, without a restart', async () => {
    redis = await startTestRedis(redis.port);
    const doc = JSON.parse(readFileSync(path.join(dir, 'malt.yaml'), 'utf8')) as Record<string, { url: string; key_prefix: string }>;
    await load(makeConfig(doc, { url: redis.url, prefix: doc['redis']!.key_prefix }), 'players');
    await waitFor('a normal read', async () => {
      const r = await get('a');
      return r.status === 200 && r.body.datasets![0]!.degraded === undefined;
    });
    expect(stderr).toMatch(/redis circuit breaker closed|redis back/);
  });
});
