/**
 * Keeps the bench suite from rotting: runs `node bench/run.mjs --quick` (tiny lakes, sub-second
 * runs, node-only load generators: autocannon, the open-loop HTTP generator and the node:http2
 * gRPC generator, so neither wrk nor h2load is needed) and checks that every workload ran against
 * every server it names and produced numbers. No performance assertions: the numbers of a quick
 * run on a CI box mean nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

interface BenchRun {
  server: string;
  mode: 'saturation' | 'rate';
  variant: string;
  tool: string;
  achievedRps: number;
  requests: number;
  errors?: number;
  non2xx?: number;
  latencyMs: { p50: number | null; p99: number | null };
}

interface Workload {
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  runs: BenchRun[];
  memory?: { maltBytesPerRow: number; feastMinimalBytesPerRow: number; feastLikeBytesPerRow: number | null }[];
}

interface Results {
  workloads: Record<string, Workload>;
  ratios: { workload: string; ratio: number }[];
  targets: { target: string; status: string }[];
}

const dirs: string[] = [];
const tmp = (label: string): string => {
  const d = mkdtempSync(path.join(os.tmpdir(), `malt-bench-smoke-${label}-`));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function runBench(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bench/run.mjs', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

/** The servers each workload must have measured, by variant. */
const EXPECTED: Record<string, Record<string, string[]>> = {
  'http-hit': { single: ['malt', 'bare node:http', 'bare fastify', 'naive fastify+ioredis'] },
  'http-batch': { batch10: ['malt', 'bare fastify', 'naive fastify+ioredis'], batch100: ['malt', 'bare fastify', 'naive fastify+ioredis'] },
  'grpc-hit': { single: ['malt', 'bare grpc-js', 'bare grpc-js (pre-encoded)'] },
  'grpc-batch': { batch10: ['malt', 'bare grpc-js', 'bare grpc-js (pre-encoded)'], batch100: ['malt', 'bare grpc-js', 'bare grpc-js (pre-encoded)'] },
  'http-redis': { single: ['malt (small cache)', 'naive fastify+ioredis'] },
};

describe('bench suite (quick smoke)', () => {
  it('runs every workload against malt and its baselines and reports numbers, a table and charts', async () => {
    const out = tmp('out');
    const { code, stderr } = await runBench(['--quick', '--out', out, '--data-dir', tmp('data')]);
    expect(code, stderr).toBe(0);
    const results = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as Results;

    expect(Object.keys(results.workloads)).toEqual(['http-hit', 'http-batch', 'grpc-hit', 'grpc-batch', 'http-redis', 'redis-benchmark', 'redis-memory']);
    for (const [name, w] of Object.entries(results.workloads)) {
      // redis-benchmark ships with redis-server on Debian; it may only be absent elsewhere, and then says so.
      if (name === 'redis-benchmark' && w.status === 'skipped') expect(w.reason).toMatch(/redis-benchmark not found/);
      else expect(w.status, `${name}: ${w.reason ?? ''}`).toBe('ok');
    }

    for (const [name, variants] of Object.entries(EXPECTED)) {
      const runs = results.workloads[name]!.runs;
      for (const [variant, servers] of Object.entries(variants)) {
        const saturated = runs.filter((r) => r.variant === variant && r.mode === 'saturation').map((r) => r.server);
        expect(saturated.sort(), `${name} ${variant}`).toEqual([...servers].sort());
        expect(runs.some((r) => r.variant === variant && r.mode === 'rate' && r.server.startsWith('malt')), `${name} ${variant} fixed rate`).toBe(true);
      }
      for (const r of runs) {
        expect(r.requests, `${name} ${r.server} ${r.mode}`).toBeGreaterThan(0);
        expect(r.achievedRps).toBeGreaterThan(0);
        expect(r.errors ?? 0).toBe(0);
        expect(r.non2xx ?? 0).toBe(0);
        expect(r.latencyMs.p50).toBeGreaterThan(0);
        expect(r.latencyMs.p99!).toBeGreaterThanOrEqual(r.latencyMs.p50!);
      }
    }

    const redisBench = results.workloads['redis-benchmark']!;
    if (redisBench.status === 'ok') for (const r of redisBench.runs) expect(r.achievedRps).toBeGreaterThan(0);
    const memory = results.workloads['redis-memory']!.memory!;
    expect(memory.length).toBeGreaterThanOrEqual(1);
    for (const m of memory) {
      expect(m.maltBytesPerRow).toBeGreaterThan(0);
      expect(m.feastMinimalBytesPerRow).toBeGreaterThan(0);
    }
    expect(memory[0]!.feastLikeBytesPerRow).toBeGreaterThan(0);

    expect(results.ratios.length).toBeGreaterThan(0);
    for (const r of results.ratios) expect(r.ratio).toBeGreaterThan(0);
    expect(results.targets.map((t) => t.target)).toHaveLength(9);

    const md = readFileSync(path.join(out, 'latest.md'), 'utf8');
    expect(md).toContain('## Targets');
    for (const chart of ['http-hit-single', 'http-redis-single', 'grpc-hit-single', 'http-batch-batch100', 'grpc-batch-batch100']) {
      expect(existsSync(path.join(out, 'charts', `${chart}.svg`)), chart).toBe(true);
      expect(md).toContain(`charts/${chart}.svg`);
    }
  }, 180_000);

  it('runs the loader workload (by name only): malt load of Parquet and Delta beside decode-alone and redis-cli --pipe', async () => {
    const out = tmp('loader-out');
    const { code, stderr } = await runBench(['loader', '--quick', '--rows', '4000', '--out', out, '--data-dir', tmp('loader-data')]);
    expect(code, stderr).toBe(0);
    const results = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as { workloads: Record<string, Workload & { loader?: LoaderResult }> };
    expect(Object.keys(results.workloads)).toEqual(['loader']);
    const w = results.workloads['loader']!;
    expect(w.status, w.reason).toBe('ok');
    const l = w.loader!;
    expect(l.measurements.map((m) => m.name)).toEqual(['hyparquet decode alone', 'hyparquet decode alone, 2 threads', 'redis-cli --pipe (same HSETs)', 'malt load (Parquet, loader.workers 1)', 'malt load (Parquet)', 'malt load (Parquet, 1,000 rows)', 'malt load (Delta)', 'malt load (Parquet, heap capped at 128 MiB)']);
    for (const m of l.measurements) {
      expect(m.status, `${m.name}: ${m.reason ?? ''}`).toBe('ok');
      expect(m.rows).toBe(m.name.includes('1,000') ? 1000 : 4000);
      expect(m.rowsPerSecond).toBeGreaterThan(0);
      expect(m.peakRssMiB).toBeGreaterThan(0);
    }
    // The baseline replays malt's own bytes: sampled values in Redis after the malt loads equal the RESP stream's.
    for (const m of l.measurements.filter((x) => x.name.startsWith('malt load'))) {
      const [same, total] = m.checks!.sameBytes.split('/').map(Number);
      expect(total).toBeGreaterThan(0);
      expect(same, m.name).toBe(total);
    }
    expect(l.measurements[6]!.checks!.sourceFormat).toBe('delta');
    expect(l.ratios.parquet!.vsDecodeAlone).toBeGreaterThan(0);
    expect(l.goals.map((g) => g.status).every((s) => s === 'met' || s === 'missed')).toBe(true);
    expect(readFileSync(path.join(out, 'latest.md'), 'utf8')).toContain('malt (Parquet) ÷ decode alone');
  }, 120_000);
});

interface LoaderResult {
  measurements: { name: string; status: string; reason?: string; rows: number; rowsPerSecond: number; peakRssMiB: number; checks?: { sameBytes: string; sourceFormat: string | null } }[];
  ratios: { parquet: { vsDecodeAlone: number } | null };
  goals: { status: string }[];
}
