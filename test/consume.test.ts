/**
 * `malt consume` against a real redis-server: stream entries → served values (HTTP of a serving
 * app), dead letters with reasons, XACK only after the write, SIGKILL mid-stream and another
 * consumer claiming what was in hand (nothing lost, counted), two consumers sharing a group,
 * SIGTERM draining with exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import { MaltError } from '../src/errors.js';
import { consumedStreams, startStreamConsumer, type ConsumerRun } from '../src/consume/stream-consumer.js';
import { parseEntry } from '../src/consume/stream-entry.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { createUpdateWritePath, type UpdateWritePath } from '../src/updates/write-path.js';
import { levels } from './support/served-levels.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, ownRedis, redisUrl, serve, tmpDir, uniquePrefix, writePlayers, type PlayerRow } from './support/fixtures.js';

const BIN = path.resolve('bin/malt.js');
const apps = appsClosedAfterAll();
const clients: Redis[] = [];
const runs: ConsumerRun[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of runs) await r.stop();
  for (const c of clients) c.disconnect();
});

const T0 = Date.parse('2030-01-01T00:00:00Z'); // after every load's as-of time: updates win
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const row = (id: string, ltv: number, level: number): PlayerRow => ({ id, ltv, level, country: 'US', is_payer: false, last_login: null, tags: null });

function redis(url = redisUrl()): Redis {
  const r = new Redis(url);
  clients.push(r);
  return r;
}

interface Setup { dir: string; prefix: string; config: MaltConfig; doc: Record<string, unknown>; stream: string; segStream: string; app: ServingApp }

/** A loaded features dataset (p0–p9) and segments dataset, both consumed, and a serving app. */
async function setup(consume: Record<string, unknown> = {}, url = redisUrl()): Promise<Setup> {
  const dir = tmpDir();
  const prefix = uniquePrefix();
  writePlayers(path.join(dir, 'players.parquet'), Array.from({ length: 10 }, (_, i) => row(`p${i}`, i, i)));
  writeParquet(path.join(dir, 'segs.parquet'), [
    { name: 'player_id', type: 'string', data: ['p1', 'p2'] },
    { name: 'segment', type: 'string', data: ['whale', 'vip'] },
  ]);
  const stream = `${prefix}:in:players`;
  const segStream = `${prefix}:in:segs`;
  const doc = {
    redis: { url, key_prefix: prefix },
    consume: { block_ms: 200, claim_idle_ms: 400, batch_size: 50, ...consume },
    datasets: [
      featuresDataset('players', path.join(dir, 'players.parquet'), { updates: { enabled: true }, updates_stream: stream, checks: { min_rows: 1 } }),
      { name: 'segs', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'segs.parquet') }, key: 'player_id', segment_column: 'segment', updates: { enabled: true }, updates_stream: segStream },
    ],
  };
  const config = makeConfig(doc, { prefix, url });
  await load(config, 'players');
  await load(config, 'segs');
  const app = await serve(config);
  apps.push(app);
  return { dir, prefix, config, doc, stream, segStream, app };
}

type Fields = Record<string, string>;

async function xadd(r: Redis, stream: string, entries: readonly Fields[]): Promise<void> {
  const p = r.pipeline();
  for (const e of entries) p.xadd(stream, '*', ...Object.entries(e).flat());
  await p.exec();
}

/** XINFO GROUPS of `group`: entries delivered and not acknowledged, and entries not delivered yet. */
async function groupState(r: Redis, stream: string, group = 'malt'): Promise<{ pending: number; lag: number }> {
  const groups = (await r.xinfo('GROUPS', stream)) as unknown[][];
  for (const g of groups) {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < g.length; i += 2) m.set(String(g[i]), g[i + 1]);
    if (m.get('name') === group) return { pending: Number(m.get('pending')), lag: Number(m.get('lag') ?? 0) };
  }
  return { pending: -1, lag: -1 };
}

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const drained = (r: Redis, stream: string) => async (): Promise<boolean> => {
  const s = await groupState(r, stream);
  return s.pending === 0 && s.lag === 0;
};

async function consumer(s: Setup, name: string, writePath?: UpdateWritePath, cfg: MaltConfig = s.config): Promise<ConsumerRun> {
  const r = redis();
  const run = await startStreamConsumer({
    redis: r,
    reader: redis(),
    writePath: writePath ?? createUpdateWritePath(r, cfg),
    streams: consumedStreams(cfg),
    group: cfg.consume.group,
    consumer: name,
    batchSize: cfg.consume.batchSize,
    blockMs: cfg.consume.blockMs,
    claimIdleMs: cfg.consume.claimIdleMs,
  });
  runs.push(run);
  return run;
}

async function features(app: ServingApp, id: string): Promise<Record<string, { value: unknown; status: string }>> {
  const res = await app.http.inject({ url: `/v1/entities/${id}?datasets=players` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().datasets[0].features;
}

async function segments(app: ServingApp, id: string): Promise<string[]> {
  const res = await app.http.inject({ url: `/v1/entities/${id}/segments?dataset=segs` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().segments;
}

async function deadLetters(r: Redis, stream: string): Promise<Map<string, string>[]> {
  const entries = (await r.xrange(stream, '-', '+')) as [string, string[]][];
  return entries.map(([, f]) => new Map(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i] as string, f[2 * i + 1] as string])));
}

describe('stream entries', () => {
  it('are parsed into write-path items; one without event_time is timed by its stream id (the same on every redelivery)', () => {
    const id = `${T0 + 5}-3`;
    expect(parseEntry([id, ['entity_id', 'p1', 'op', 'upsert', 'values', '{"level":"1"}', 'x', 'y']])).toEqual({
      ok: true, id, fields: ['entity_id', 'p1', 'op', 'upsert', 'values', '{"level":"1"}', 'x', 'y'],
      item: { entity_id: 'p1', op: 'upsert', values: { level: '1' }, event_time: at(5) },
    });
    expect(parseEntry([id, ['entity_id', 'p1', 'op', 'remove', 'segment', 'whale', 'event_time', at(1)]])).toMatchObject({ ok: true, item: { op: 'remove', segment: 'whale', event_time: at(1) } });
    const bad = (fields: string[]): string => {
      const p = parseEntry(['1-0', fields]);
      return p.ok ? 'ok' : p.message;
    };
    expect(bad(['op', 'delete'])).toMatch(/missing "entity_id"/);
    expect(bad(['entity_id', 'p1'])).toMatch(/missing "op"/);
    expect(bad(['entity_id', 'p1', 'op', 'add'])).toMatch(/needs "segment"/);
    expect(bad(['entity_id', 'p1', 'op', 'upsert'])).toMatch(/needs "values"/);
    expect(bad(['entity_id', 'p1', 'op', 'upsert', 'values', '[1]'])).toMatch(/must be a JSON object, got an array/);
    expect(bad(['entity_id', 'p1', 'op', 'delete', 'event_time', 'yesterday'])).toMatch(/RFC 3339/);
    expect(parseEntry(['1-0', null])).toMatchObject({ ok: false, message: expect.stringMatching(/deleted from the stream/) });
  });

  it('a dataset with an updates_stream but updates disabled, or two datasets on one stream, is a config error', () => {
    const ds = (name: string, extra: Record<string, unknown>) => featuresDataset(name, '/nowhere', extra);
    expect(() => consumedStreams(makeConfig({ datasets: [ds('a', { updates_stream: 's' })] }))).toThrow(/updates.enabled: true/);
    expect(() => consumedStreams(makeConfig({ datasets: [ds('a', { updates: { enabled: true }, updates_stream: 's' }), ds('b', { updates: { enabled: true }, updates_stream: 's' })] }))).toThrow(/same updates_stream "s"/);
    const cfg = makeConfig({ datasets: [ds('a', { updates: { enabled: true }, updates_stream: 's' }), ds('b', {})] });
    expect(consumedStreams(cfg)).toEqual([{ dataset: 'a', stream: 's', deadLetterStream: 's:dead', deadLetterMaxlen: 100_000, group: 'malt' }]);
  });
});

describe('malt consume: stream entries through the write path', () => {
  it('applies upserts, deletes and segment add/remove; acknowledges them; served over HTTP', async () => {
    const s = await setup();
    const r = redis();
    await xadd(r, s.stream, [
      { entity_id: 'p1', op: 'upsert', values: JSON.stringify({ ltv: 99.5, level: '42' }), event_time: at(1) },
      { entity_id: 'p2', op: 'delete', event_time: at(1) },
      { entity_id: 'new1', op: 'upsert', values: JSON.stringify({ country: 'SE' }), event_time: at(1), trace: 'producer fields are ignored' },
      { entity_id: 'p1', op: 'upsert', values: JSON.stringify({ ltv: 1 }), event_time: at(0) }, // older: loses
    ]);
    await xadd(r, s.segStream, [
      { entity_id: 'p1', op: 'remove', segment: 'whale', event_time: at(1) },
      { entity_id: 'p3', op: 'add', segment: 'payer', event_time: at(1) },
    ]);
    const run = await consumer(s, 'c1');
    await until('both streams drained', async () => (await drained(r, s.stream)()) && drained(r, s.segStream)());
    expect(run.stats).toMatchObject({ applied: 6, deadLettered: 0 });
    await until('the update served', async () => (await features(s.app, 'p1'))['ltv']?.value === 99.5);
    const p1 = await features(s.app, 'p1');
    expect(p1['level']?.value).toBe('42');
    expect(p1['country']?.value).toBe('US'); // a partial upsert keeps the batch's other columns
    expect((await features(s.app, 'p2'))['ltv']?.status).not.toBe('PRESENT');
    expect((await features(s.app, 'new1'))['country']?.value).toBe('SE');
    expect(await segments(s.app, 'p1')).toEqual([]);
    expect(await segments(s.app, 'p3')).toEqual(['payer']);
    expect(await r.exists(`${s.stream}:dead`)).toBe(0);
  });

  it('dead-letters malformed and invalid entries with the reason, counted; applies the rest of the batch', async () => {
    const s = await setup();
    const r = redis();
    await xadd(r, s.stream, [
      { entity_id: 'p1', op: 'upsert', values: JSON.stringify({ level: '7' }), event_time: at(1) },
      { entity_id: 'p2', op: 'upsert', values: '{"level": ', event_time: at(1) }, // bad JSON
      { entity_id: 'p3', op: 'merge', values: '{}', event_time: at(1) }, // unknown op
      { entity_id: 'p4', op: 'upsert', values: JSON.stringify({ ltv: 'lots' }), event_time: at(1) }, // bad type
      { op: 'upsert', values: JSON.stringify({ level: '1' }), event_time: at(1) }, // no entity
      { entity_id: 'p5', op: 'upsert', values: JSON.stringify({ level: '8' }), event_time: at(1) },
    ]);
    const run = await consumer(s, 'c1');
    await until('drained', drained(r, s.stream));
    expect(run.stats.applied).toBe(2);
    expect(run.stats.deadLettered).toBe(4);
    const dead = await deadLetters(r, `${s.stream}:dead`);
    expect(dead.map((d) => d.get('entity_id') ?? '(none)')).toEqual(['p2', 'p3', 'p4', '(none)']);
    expect(dead[0]?.get('dead_reason')).toMatch(/not valid JSON/);
    expect(dead[0]?.get('values')).toBe('{"level": '); // original fields kept for a replay
    expect(dead[1]?.get('dead_reason')).toMatch(/unknown op "merge"/);
    expect(dead[2]?.get('dead_reason')).toMatch(/ltv/);
    expect(dead[3]?.get('dead_reason')).toMatch(/entity_id/);
    for (const d of dead) {
      expect(d.get('dead_stream')).toBe(s.stream);
      expect(d.get('dead_id')).toMatch(/^\d+-\d+$/);
      expect(d.get('dead_code')).toMatch(/^[A-Z_]+$/);
    }
    expect(Object.values(run.stats.deadByCode).reduce((a, b) => a + b, 0)).toBe(4);
    await until('the valid ones served', async () => (await levels(s.app, ['p1', 'p5'])).get('p5') === '8');
    expect(await levels(s.app, ['p1', 'p4'])).toEqual(new Map([['p1', '7'], ['p4', '4']]));
  });

  it('acknowledges only after the write: a consumer stuck between write and ack leaves its entries pending; another claims and re-applies them (idempotent)', async () => {
    const s = await setup({ claim_idle_ms: 300 });
    const r = redis();
    const real = createUpdateWritePath(r, s.config);
    let written = 0;
    let release: (e: Error) => void = () => undefined;
    const stuck = new Promise<never>((_, reject) => (release = reject));
    // The write happens, then the process "dies" before it can acknowledge.
    const dying: UpdateWritePath = {
      async apply(dataset, items, receivedAt) {
        const res = await real.apply(dataset, items, receivedAt);
        written += items.length;
        return stuck.then(() => res);
      },
    };
    const entries = Array.from({ length: 20 }, (_, i) => ({ entity_id: `p${i % 10}`, op: 'upsert', values: JSON.stringify({ level: String(100 + i) }), event_time: at(i) }));
    await xadd(r, s.stream, entries);
    const a = await consumer(s, 'dies', dying);
    await until('written', async () => written === 20);
    expect(await groupState(r, s.stream)).toEqual({ pending: 20, lag: 0 });
    const stopA = a.stop();
    release(new Error('killed'));
    await stopA;
    expect(a.stats.applied).toBe(0);
    expect((await groupState(r, s.stream)).pending).toBe(20);

    const b = await consumer(s, 'survivor');
    await until('claimed and acknowledged', drained(r, s.stream));
    expect(b.stats.claimed).toBe(20);
    expect(b.stats.applied).toBe(20);
    // The model: per player the entry with the latest event time, p<k> ← 110 + k.
    await until('served', async () => (await levels(s.app, ['p9'])).get('p9') === '119');
    const served = await levels(s.app, Array.from({ length: 10 }, (_, k) => `p${k}`));
    for (let k = 0; k < 10; k++) expect(served.get(`p${k}`)).toBe(String(110 + k));
  });

  it('a write that fails (Redis unreachable) acknowledges nothing; the consumer retries its pending entries and applies them', async () => {
    const s = await setup();
    const r = redis();
    const real = createUpdateWritePath(r, s.config);
    let calls = 0;
    const flaky: UpdateWritePath = {
      apply(dataset, items, receivedAt) {
        calls += 1;
        if (calls <= 2) return Promise.reject(new MaltError('STORE_UNAVAILABLE', 'Redis is unreachable: test'));
        return real.apply(dataset, items, receivedAt);
      },
    };
    await xadd(r, s.stream, Array.from({ length: 5 }, (_, i) => ({ entity_id: `p${i}`, op: 'upsert', values: JSON.stringify({ level: String(50 + i) }), event_time: at(1) })));
    const run = await consumer(s, 'flaky', flaky);
    await until('drained', drained(r, s.stream));
    expect(run.stats).toMatchObject({ retries: 2, applied: 5, deadLettered: 0 });
    await until('served', async () => (await levels(s.app, ['p4'])).get('p4') === '54');
  });

  it('two consumers in one group split the work', async () => {
    const s = await setup({ batch_size: 10 });
    const r = redis();
    const a = await consumer(s, 'a');
    const b = await consumer(s, 'b');
    const ids = Array.from({ length: 400 }, (_, i) => `q${i}`);
    for (let i = 0; i < ids.length; i += 40) {
      await xadd(r, s.stream, ids.slice(i, i + 40).map((id, j) => ({ entity_id: id, op: 'upsert', values: JSON.stringify({ level: String(i + j) }), event_time: at(1) })));
    }
    await until('drained', drained(r, s.stream));
    expect(a.stats.applied + b.stats.applied).toBe(400);
    expect(a.stats.applied).toBeGreaterThan(0);
    expect(b.stats.applied).toBeGreaterThan(0);
    const served = await levels(s.app, ids);
    expect(ids.filter((id, i) => served.get(id) !== String(i))).toEqual([]);
  });
});

describe('malt consume (the CLI)', () => {
  // Its own redis-server: the test pauses writes (CLIENT PAUSE) to catch a consumer with a batch in hand.
  const own = ownRedis();
  function start(configFile: string, name: string): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
    const child = spawn(process.execPath, [BIN, 'consume', '-c', configFile, '--consumer', name], { env: { ...process.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, stderr: () => stderr, exit };
  }

  it('exits 2 with CONFIG_INVALID when no dataset has an updates_stream', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'malt.yaml');
    writeFileSync(file, stringify({ redis: { url: own.url }, datasets: [featuresDataset('players', path.join(dir, 'none.parquet'))] }));
    const run = start(file, 'x');
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/error CONFIG_INVALID: no dataset to consume/);
  });

  it('SIGKILL mid-stream, another consumer claims what was in hand: every entry applied as the model says, none lost; SIGTERM drains and exits 0', async () => {
    const s = await setup({ claim_idle_ms: 500, batch_size: 25 }, own.url);
    const file = path.join(s.dir, 'malt.yaml');
    writeFileSync(file, stringify(s.doc));
    const r = redis(own.url);
    const N = 3000;
    // Entry i sets level of k<i> to i (each one checkable); then stale entries (older event time) for the first third must lose.
    const fresh = Array.from({ length: N }, (_, i) => ({ entity_id: `k${i}`, op: 'upsert', values: JSON.stringify({ level: String(i) }), event_time: at(10_000 + i) }));
    const stale = Array.from({ length: N / 3 }, (_, i) => ({ entity_id: `k${i}`, op: 'upsert', values: JSON.stringify({ level: '-1' }), event_time: at(i) }));
    const all = [...fresh, ...stale];

    await xadd(r, s.stream, all);
    const first = start(file, 'first');
    await until('the first consumer started', async () => (await groupState(r, s.stream)).lag < all.length, 30_000);
    // Freeze writes so the consumer stops wherever it is; kill it once that is with a batch in hand.
    let inHand = 0;
    let last = { pending: -1, lag: -1 };
    for (let attempt = 0; attempt < 200 && inHand === 0 && last.lag !== 0; attempt++) {
      await r.call('CLIENT', 'PAUSE', '5000', 'WRITE');
      try {
        await new Promise((res) => setTimeout(res, 20));
        last = await groupState(r, s.stream);
        if (last.pending > 0 && last.lag > 0) {
          first.child.kill('SIGKILL');
          expect(await first.exit).toBe(null);
          inHand = last.pending;
        }
      } finally {
        await r.call('CLIENT', 'UNPAUSE');
      }
    }
    expect(inHand, `last seen ${JSON.stringify(last)}`).toBeGreaterThan(0); // killed mid-stream (lag > 0) with entries delivered, not acknowledged
    expect(inHand).toBeGreaterThan(0); // killed mid-stream (lag > 0) with entries delivered, not acknowledged
    const afterKill = await groupState(r, s.stream);
    expect(afterKill.pending).toBe(inHand);

    const second = start(file, 'second');
    await until('every entry applied and acknowledged', drained(r, s.stream), 60_000);
    expect(second.stderr()).toMatch(new RegExp(`claimed ${afterKill.pending} entries`));

    // SIGTERM with entries still coming: drains the batch in hand, acknowledges, exits 0.
    const extra = Array.from({ length: 500 }, (_, i) => ({ entity_id: `x${i}`, op: 'upsert', values: JSON.stringify({ level: String(i) }), event_time: at(20_000) }));
    await xadd(r, s.stream, extra.slice(0, 250));
    second.child.kill('SIGTERM');
    await xadd(r, s.stream, extra.slice(250));
    expect(await second.exit).toBe(0);
    expect(second.stderr()).toMatch(/consume stopped.*applied=/);
    const pending = (await r.xpending(s.stream, 'malt')) as [number, ...unknown[]];
    expect(pending[0]).toBe(0); // nothing left in hand

    const keys = fresh.map((e) => e.entity_id);
    await until('served', async () => (await levels(s.app, [`k${N - 1}`])).get(`k${N - 1}`) === String(N - 1));
    const served = await levels(s.app, keys);
    const wrong = keys.filter((k, i) => served.get(k) !== String(i));
    expect(wrong).toEqual([]);
    expect(await r.exists(`${s.stream}:dead`)).toBe(0);
  }, 120_000);
});
