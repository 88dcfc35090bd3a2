/**
 * Logs: `log.format: json` makes every stderr line of `malt serve` a pino JSON object; the
 * default stays human `<time> <level> <message>` lines; no line is written per request; an
 * INTERNAL error's line carries the request id.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { pinoLogger, lineLogger } from '../src/telemetry/logger.js';
import { featuresDataset, redisUrl, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { MALT_BIN, runMalt } from './support/cli-runner.js';
import { freePort } from './support/redis-server.js';

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }
});

async function until(cond: () => boolean | Promise<boolean>, what: string | (() => string), ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Loads a one-row dataset and starts `malt serve` with `env`; returns its base URL and a live view of its stderr. */
async function startServe(env: Record<string, string>): Promise<{ base: string; stderr: () => string; child: ChildProcess }> {
  const dir = tmpDir();
  const lake = path.join(dir, 'p.parquet');
  writePlayers(lake, [{ id: 'a', ltv: 1, level: 1, country: 'DE', is_payer: true, last_login: null, tags: null }]);
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, stringify({ datasets: [featuresDataset('lg_pf', lake)] }));
  const http = await freePort();
  const all = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: uniquePrefix(), MALT_HTTP_PORT: String(http), MALT_GRPC_PORT: String(await freePort()), ...env };
  expect((await runMalt(['load', '-c', file], all)).code).toBe(0);
  const child = spawn(process.execPath, [MALT_BIN, 'serve', '-c', file], { env: { ...process.env, ...all }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const base = `http://127.0.0.1:${http}`;
  await until(() => fetch(`${base}/readyz`).then((r) => r.status === 200, () => false), () => `malt serve ready; its stderr: ${err}`);
  return { base, stderr: () => err, child };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('logs of malt serve', () => {
  it('log.format json: one pino JSON object per stderr line, none per request', async () => {
    const { base, stderr, child } = await startServe({ MALT_LOG_FORMAT: 'json' });
    await until(() => stderr().includes('serving lg_pf version 1'), 'the version line');
    const before = stderr();
    for (let i = 0; i < 20; i++) await fetch(`${base}/v1/entities/a`);
    for (let i = 0; i < 5; i++) await fetch(`${base}/v1/entities/a?datasets=nope`); // coded errors: not logged either
    await new Promise((r) => setTimeout(r, 200));
    expect(stderr()).toBe(before);
    await stop(child);
    const lines = stderr().trim().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const o of objects) {
      expect(typeof o['msg']).toBe('string');
      expect([20, 30, 40, 50]).toContain(o['level']);
      expect(Date.parse(String(o['time']))).toBeGreaterThan(0);
      expect(typeof o['pid']).toBe('number');
    }
    expect(objects.map((o) => o['msg'])).toEqual(expect.arrayContaining(['serving lg_pf version 1', expect.stringMatching(/^HTTP on http:\/\/127\.0\.0\.1:/), 'SIGTERM: shutting down']));
  });

  it('the default is human lines: <ISO time> <level> <message>', async () => {
    const { stderr, child } = await startServe({});
    await until(() => stderr().includes('serving lg_pf version 1'), 'the version line');
    await stop(child);
    const lines = stderr().trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) /);
    expect(lines.some((l) => / info serving lg_pf version 1$/.test(l))).toBe(true);
  });
});

describe('Logger backends', () => {
  it('pinoLogger writes the fields beside msg; levels below the configured one are dropped', () => {
    const out: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { out.push(String(chunk)); cb(); } });
    const log = pinoLogger('info', sink);
    log.debug?.('hidden');
    log.info('hello', { request_id: 'r1', n: 2 });
    log.error('boom');
    const parsed = out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ level: 30, msg: 'hello', request_id: 'r1', n: 2 });
    expect(parsed[1]).toMatchObject({ level: 50, msg: 'boom' });
  });

  it('lineLogger keeps the human format and drops lines below its level', () => {
    const lines: string[] = [];
    const log = lineLogger((l) => lines.push(l), 'warn');
    log.info('quiet');
    log.warn('careful', { dataset: 'x' });
    expect(lines).toEqual(['warn careful dataset="x"']);
  });
});
