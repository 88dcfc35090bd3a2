/**
 * `malt sync`: the poll loop against a real Redis and real Parquet files (in-process through
 * startSync, and as spawned `malt sync` processes), the delay policy, the close stack, and
 * fencing of a stalled loader.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { Lifecycle } from '../src/app/lifecycle.js';
import { KeyLayout } from '../src/keys.js';
import { writeSampleLake } from '../src/sample/sample-lake.js';
import { SnapshotStore } from '../src/store/snapshot-store.js';
import { registerScripts } from '../src/store/lua-scripts.js';
import { backoffMs, nextDelayMs, withJitter } from '../src/sync/backoff.js';
import { type PollOutcome, startSync } from '../src/sync/sync-scheduler.js';
import { type Logger } from '../src/telemetry/logger.js';
import { featuresDataset, load, makeConfig, newRedis, redisUrl, tmpDir, uniquePrefix, writePlayers, type PlayerRow } from './support/fixtures.js';

const BIN = path.resolve('bin/malt.js');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const row = (id: string, ltv: number): PlayerRow => ({ id, ltv, level: 1, country: 'US', is_payer: true, last_login: null, tags: null });
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Writes the table aside and renames it in, so a concurrent poll never reads half a file. */
function replacePlayers(file: string, rows: readonly PlayerRow[]): void {
  const staging = path.join(path.dirname(path.dirname(file)), 'staging');
  mkdirSync(staging, { recursive: true });
  const tmp = path.join(staging, path.basename(file));
  writePlayers(tmp, rows);
  renameSync(tmp, file);
}

function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (m: string, f?: object): void => void lines.push(`${level} ${m} ${f ? JSON.stringify(f) : ''}`);
  return { lines, info: add('info'), warn: add('warn'), error: add('error') };
}

/** Collects poll outcomes and lets a test await the first one that matches. */
function pollLog() {
  const seen: { at: number; outcome: PollOutcome; next: number | null }[] = [];
  const waiters: { match: (o: PollOutcome) => boolean; from: number; resolve: (o: PollOutcome) => void }[] = [];
  return {
    seen,
    onPoll(outcome: PollOutcome, next: number | null): void {
      seen.push({ at: Date.now(), outcome, next });
      for (const w of waiters.splice(0)) {
        if (seen.length - 1 >= w.from && w.match(outcome)) w.resolve(outcome);
        else waiters.push(w);
      }
    },
    /** The first outcome matching after the ones seen so far. */
    next(match: (o: PollOutcome) => boolean, ms = 15_000): Promise<PollOutcome> {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching poll within ${ms} ms; seen ${JSON.stringify(seen.map((s) => s.outcome.kind))}`)), ms);
        waiters.push({ match, from: seen.length, resolve: (o) => { clearTimeout(t); resolve(o); } });
      });
    },
  };
}

describe('sync delay policy', () => {
  it('waits the interval ± jitter after a success, and base × 2^(n−1) capped at the interval after n failures', () => {
    expect(withJitter(1000, 0.1, () => 0)).toBe(900);
    expect(withJitter(1000, 0.1, () => 0.5)).toBe(1000);
    expect(withJitter(1000, 0.1, () => 0.999999)).toBe(1100);
    expect(withJitter(1000, 0, Math.random)).toBe(1000);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, 1000, 30_000))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    const policy = { intervalMs: 300_000, jitter: 0.2 };
    expect(nextDelayMs(policy, 0, () => 0)).toBe(240_000);
    expect(nextDelayMs(policy, 1, () => 0.5)).toBe(1000);
    expect(nextDelayMs(policy, 3, () => 0.5)).toBe(4000);
    expect(nextDelayMs(policy, 40, () => 0.5)).toBe(300_000);
    for (let i = 0; i < 200; i++) {
      const d = nextDelayMs(policy, 0);
      expect(d).toBeGreaterThanOrEqual(240_000);
      expect(d).toBeLessThanOrEqual(360_000);
    }
  });
});

describe('lifecycle (the close stack of serve and sync)', () => {
  it('undoes in reverse, once, past a failing step; a step added while closing is undone too', async () => {
    const log = captureLogger();
    const lc = new Lifecycle(log);
    const order: string[] = [];
    lc.add('a', () => void order.push('a'));
    lc.add('b', () => { throw new Error('boom'); });
    lc.add('c', async () => { await delay(5); order.push('c'); });
    expect(lc.closing).toBe(false);
    const first = lc.close();
    expect(lc.closing).toBe(true);
    lc.add('late', () => void order.push('late'));
    await Promise.all([first, lc.close()]);
    await lc.close();
    expect(order).toEqual(['c', 'a', 'late']);
    expect(log.lines.filter((l) => l.includes('close: b failed: boom'))).toHaveLength(1);
  });
});

describe('sync loop (in process, real Redis and files)', () => {
  it('a failing source is logged with its code, retried with growing backoff, the served version kept; it recovers once fixed', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'lake');
    mkdirSync(lake);
    writePlayers(path.join(lake, 'a.parquet'), [row('a', 1)]);
    const config = makeConfig({ datasets: [featuresDataset('sync_bad', lake, { sync: { interval: 2000, jitter: 0 } })] });
    expect((await load(config, 'sync_bad')).version).toBe(1);
    writeFileSync(path.join(lake, 'b.parquet'), 'this is not parquet');
    const redis = newRedis(config);
    const logger = captureLogger();
    const polls = pollLog();
    const run = startSync({ redis, config, logger, backoffBaseMs: 100, onPoll: polls.onPoll });
    try {
      const third = await polls.next((o) => o.kind === 'failed' && o.failures === 3);
      expect(third.kind === 'failed' && third.error.code).toMatch(/^SOURCE_/);
      // 100, 200, 400 ms: doubling, well under the 2 s interval.
      expect(polls.seen.slice(0, 3).map((s) => s.next)).toEqual([100, 200, 400]);
      expect(logger.lines.filter((l) => l.startsWith('error sync_bad: load failed')).length).toBeGreaterThanOrEqual(3);
      expect(logger.lines.find((l) => l.startsWith('error sync_bad'))).toMatch(/"code":"SOURCE_[A-Z_]+","message":".*b\.parquet/);
      const store = new SnapshotStore(redis, new KeyLayout(config.redis.keyPrefix));
      expect(await store.currentVersionId('sync_bad')).toBe(1);
      // Fix the source: the next retry publishes it and the loop returns to the interval.
      replacePlayers(path.join(lake, 'a.parquet'), [row('a', 2), row('b', 3)]);
      rmSync(path.join(lake, 'b.parquet'));
      const published = await polls.next((o) => o.kind === 'published');
      expect(published.kind === 'published' && published.report.version).toBe(2);
      expect(polls.seen.at(-1)?.next).toBe(2000);
      expect(logger.lines.some((l) => /sync_bad: published version 2 \(was 1\) \(recovered after \d+ failed polls?\)/.test(l))).toBe(true);
      // Capped at the interval: a later failure streak never waits longer than 2 s.
      expect(Math.max(...polls.seen.map((s) => s.next ?? 0))).toBeLessThanOrEqual(2000);
    } finally {
      await run.stop();
      redis.disconnect();
    }
  });

  it('--once semantics: each dataset is polled once and the run finishes with its outcome', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'o.parquet'), [row('a', 1)]);
    const config = makeConfig({ datasets: [featuresDataset('sync_once', path.join(dir, 'o.parquet'))] });
    const redis = newRedis(config);
    try {
      const first = await startSync({ redis, config, once: true }).finished;
      expect(first.map((o) => [o.dataset, o.kind])).toEqual([['sync_once', 'published']]);
      const second = await startSync({ redis, config, once: true }).finished;
      expect(second.map((o) => o.kind)).toEqual(['unchanged']);
    } finally {
      redis.disconnect();
    }
  });
});

describe('fencing', () => {
  it('a loader whose lock expired cannot publish over the version a newer loader published', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'f.parquet'), [row('a', 1)]);
    const config = makeConfig({ datasets: [featuresDataset('fenced', path.join(dir, 'f.parquet'))] });
    const redis = newRedis(config);
    registerScripts(redis);
    const store = new SnapshotStore(redis, new KeyLayout(config.redis.keyPrefix));
    try {
      // The stalled loader: holds a 300 ms lock, creates its version, then stops renewing.
      const staleToken = await store.acquireLock('fenced', 300);
      const stale = await store.createVersion('fenced', { kind: 'features', buckets: 1, columns: [], fingerprint: 'stale', sourceFiles: 0, sourceBytes: 0, snapshotId: 'stale', sourceVersion: null, sourceAsOf: null, sourceFormat: 'parquet' } as unknown as Parameters<SnapshotStore['createVersion']>[1]);
      await delay(400);
      // A newer loader takes the free lock and publishes.
      const fresh = await load(config, 'fenced');
      expect(fresh.status).toBe('published');
      const pointer = await redis.get(store.keys.current('fenced'));
      await expect(store.publish('fenced', stale, staleToken)).rejects.toMatchObject({ code: 'LOAD_IN_PROGRESS' });
      expect(await redis.get(store.keys.current('fenced'))).toBe(pointer);
      expect(await store.currentVersionId('fenced')).toBe(fresh.version);
    } finally {
      redis.disconnect();
    }
  });
});

// ---- `malt sync` as a process ----

interface Proc { child: ChildProcess; stderr: () => string; exit: Promise<number | null> }

function spawnSync(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, [BIN, 'sync', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  child.stdout?.resume();
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stderr: () => err, exit };
}

function writeConfig(dir: string, doc: Record<string, unknown>): string {
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms: number, step = 20): Promise<T> {
  const deadline = Date.now() + ms;
  let v = await fn();
  while (!ok(v) && Date.now() < deadline) {
    await delay(step);
    v = await fn();
  }
  return v;
}

describe('malt sync (spawned)', () => {
  it('with interval 1s it publishes a changed file within ~2 intervals, leaves an unchanged one alone, and exits 0 on SIGTERM', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'lake');
    mkdirSync(lake);
    writePlayers(path.join(lake, 'p.parquet'), [row('a', 1)]);
    const prefix = uniquePrefix();
    const file = writeConfig(dir, { datasets: [featuresDataset('sp', lake, { sync: { interval: '1s', jitter: 0 } })] });
    const redis = new Redis(redisUrl());
    const store = new SnapshotStore(redis, new KeyLayout(prefix));
    const p = spawnSync(['-c', file], { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix });
    try {
      expect(await waitFor(() => store.currentVersionId('sp'), (v) => v === 1, 15_000), p.stderr()).toBe(1);
      replacePlayers(path.join(lake, 'p.parquet'), [row('a', 5), row('b', 6)]);
      const changed = Date.now();
      expect(await waitFor(() => store.currentVersionId('sp'), (v) => v === 2, 5000), p.stderr()).toBe(2);
      expect(Date.now() - changed).toBeLessThan(2500);
      // Three more intervals with nothing new: no new version.
      await delay(3000);
      expect((await store.listVersions('sp')).map((v) => v.id)).toEqual([2, 1]);
      expect(p.stderr()).toMatch(/info sync started: sp \(every 1 s ± 0%\)/);
      expect(p.stderr()).toMatch(/info sp: published version 2 \(was 1\) rows=2/);
      expect(p.stderr().match(/published version/g)).toHaveLength(2);
      p.child.kill('SIGTERM');
      expect(await p.exit).toBe(0);
      expect(p.stderr()).toContain('sync stopped');
    } finally {
      redis.disconnect();
    }
  });

  it('two sync processes on one dataset never load at once: one waits on the lock, one version per source change', async () => {
    const dir = tmpDir();
    writeSampleLake({ dir, players: 40_000, files: 1 });
    const prefix = uniquePrefix();
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix };
    const file = writeConfig(dir, {
      loader: { max_batches_in_flight: 1, batch_rows: 200 },
      datasets: [{ name: 'two', source: { uri: path.join(dir, 'player_features') }, key: 'player_id', sync: { interval: '1s', jitter: 0 } }],
    });
    const redis = new Redis(redisUrl());
    const keys = new KeyLayout(prefix);
    const store = new SnapshotStore(redis, keys);
    const a = spawnSync(['-c', file], env);
    const b = spawnSync(['-c', file], env);
    try {
      // Watch the manifests: never two versions loading at the same time.
      let maxLoading = 0;
      const published = await waitFor(async () => {
        const vs = await store.listVersions('two');
        maxLoading = Math.max(maxLoading, vs.filter((v) => v.state === 'loading').length);
        return vs;
      }, (vs) => vs.some((v) => v.state === 'published'), 60_000, 10);
      expect(published.filter((v) => v.state === 'published').map((v) => v.id)).toEqual([1]);
      await delay(2500); // both poll again: unchanged
      expect((await store.listVersions('two')).map((v) => [v.id, v.state])).toEqual([[1, 'published']]);
      // A change (written aside, then renamed in: a reader never sees half a file): again exactly one of them loads it.
      const next = path.join(dir, 'next');
      writeSampleLake({ dir: next, players: 40_000, files: 1 });
      const [part] = readdirSync(path.join(next, 'player_features')).filter((f) => f.endsWith('.parquet'));
      renameSync(path.join(next, 'player_features', part!), path.join(dir, 'player_features', part!));
      await waitFor(async () => {
        const vs = await store.listVersions('two');
        maxLoading = Math.max(maxLoading, vs.filter((v) => v.state === 'loading').length);
        return vs;
      }, (vs) => vs.some((v) => v.id === 2 && v.state === 'published'), 60_000, 10);
      await delay(2500);
      expect((await store.listVersions('two')).map((v) => [v.id, v.state])).toEqual([[2, 'published'], [1, 'published']]);
      expect(maxLoading).toBeLessThanOrEqual(1);
      const logs = a.stderr() + b.stderr();
      expect(logs).toContain('another loader holds the load lock; retrying on the next poll');
      expect(logs.match(/published version 1/g)).toHaveLength(1);
      expect(logs.match(/published version 2/g)).toHaveLength(1);
      expect(logs).not.toMatch(/load failed/);
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      expect([await a.exit, await b.exit]).toEqual([0, 0]);
      expect(await redis.exists(keys.lock('two'))).toBe(0);
    } finally {
      redis.disconnect();
    }
  }, 180_000);

  it('SIGTERM mid-load: exit 0, nothing published, the lock released', async () => {
    const dir = tmpDir();
    writeSampleLake({ dir, players: 150_000, files: 1 });
    const prefix = uniquePrefix();
    const file = writeConfig(dir, {
      loader: { max_batches_in_flight: 1, batch_rows: 200 },
      datasets: [{ name: 'term', source: { uri: path.join(dir, 'player_features') }, key: 'player_id', sync: { interval: '1m' } }],
    });
    const redis = new Redis(redisUrl());
    const keys = new KeyLayout(prefix);
    const p = spawnSync(['-c', file], { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix });
    try {
      // Signal once version 1 has rows in Redis but is not yet published.
      await waitFor(() => redis.exists(keys.bucket('term', 1, 0)), (n) => n === 1, 30_000, 5);
      expect(await redis.exists(keys.lock('term'))).toBe(1);
      p.child.kill('SIGTERM');
      expect(await p.exit, p.stderr()).toBe(0);
      expect(await redis.exists(keys.lock('term'))).toBe(0);
      expect(await redis.get(keys.current('term'))).toBeNull();
      expect(await redis.hget(keys.manifest('term', 1), 'state')).toBe('failed');
      expect(p.stderr()).toContain('term: load abandoned at shutdown; nothing was published and the lock was released');
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
