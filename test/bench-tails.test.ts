/**
 * Keeps bench/tails.mjs (gRPC tail latency, issue 10) from rotting: its --quick mode builds the
 * native generator, starts malt, the raw node:http2 floor and bare grpc-js, checks they answer
 * malt's exact bytes, and runs every point once. No performance assertions: the numbers of a
 * quick run on a shared box mean nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

interface TailsResult {
  checks: Record<string, { sameBytes: boolean; responseBytes: number }>;
  summary: { point: string; server: string; rounds: number; p99: { max: number }; genCpuMax: number }[];
  runs: { point: string; server: string; sent: number; ok: number; errors: number; generator: { cpuSeconds: number } }[];
  failed: unknown[];
}

const out = mkdtempSync(path.join(os.tmpdir(), 'malt-bench-tails-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bench/tails.mjs --quick', () => {
  it('measures malt gRPC and HTTP, raw node:http2 and bare grpc-js with the native generator', async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['bench/tails.mjs', '--quick', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (c) => resolve({ code: c, stderr: err }));
    });
    expect(code, stderr).toBe(0);
    const r = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as TailsResult;
    expect(r.checks['Get']?.sameBytes).toBe(true);
    expect(r.checks['BatchGet']?.sameBytes).toBe(true);
    const servers = (point: string): string[] => r.summary.filter((s) => s.point === point).map((s) => s.server).sort();
    expect(servers('get@2000')).toEqual(['bare grpc-js', 'malt', 'raw node:http2']);
    expect(servers('http-get@2000')).toEqual(['malt HTTP']);
    expect(servers('batch100@200')).toEqual(['bare grpc-js', 'malt', 'raw node:http2']);
    expect(servers('get-saturation')).toEqual(['bare grpc-js', 'malt', 'raw node:http2']);
    for (const run of r.runs) {
      expect(run.sent, `${run.point} ${run.server}`).toBeGreaterThan(0);
      expect(run.ok + run.errors).toBeGreaterThan(0);
      expect(run.generator.cpuSeconds).toBeGreaterThan(0);
    }
    expect(readFileSync(path.join(out, 'latest.md'), 'utf8')).toContain('p99 ratios per round');
  }, 120_000);
});
