/**
 * Segment enter/exit events (docs/updates.md#segment-enterexit-events), one test per way a
 * membership changes: a batch load that differs from the previous version (wide and long
 * sources, entities that appear, change and disappear, a load that removes a segment from
 * thousands of players: events counted exactly), an HTTP push (only a change of the served
 * membership emits: a stale or superseded update emits nothing), and a stream operation read
 * by the consumer; and the MAXLEN bound.
 */
import { utimesSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { consumedStreams, startStreamConsumer, type ConsumerRun } from '../src/consume/stream-consumer.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { createUpdateWritePath } from '../src/updates/write-path.js';
import { appsClosedAfterAll, load, makeConfig, redisUrl, serve, tmpDir, uniquePrefix } from './support/fixtures.js';

const apps = appsClosedAfterAll();
const clients: Redis[] = [];
const runs: ConsumerRun[] = [];
afterAll(async () => {
  for (const r of runs) await r.stop();
  for (const c of clients) c.disconnect();
});
function redis(): Redis {
  const r = new Redis(redisUrl());
  clients.push(r);
  return r;
}

interface Event { entity_id: string; segment: string; change: string; version: string; at: string }

async function eventsOf(stream: string): Promise<Event[]> {
  const entries = await redis().xrange(stream, '-', '+');
  return entries.map(([, f]) => {
    const m: Record<string, string> = {};
    for (let i = 0; i + 1 < f.length; i += 2) m[f[i]!] = f[i + 1]!;
    return m as unknown as Event;
  });
}

const brief = (e: Event): string => `${e.change} ${e.entity_id} ${e.segment}`;

function segmentsConfig(uri: string, extra: Record<string, unknown> = {}): { cfg: ReturnType<typeof makeConfig>; stream: string } {
  const prefix = uniquePrefix();
  const stream = `${prefix}:segment_events`;
  const cfg = makeConfig({ datasets: [{ name: 'segs', kind: 'segments', source: { format: 'parquet', uri }, key: 'player_id', segment_column: 'segment', segment_events_stream: stream, ...extra }] }, { prefix });
  return { cfg, stream };
}

function writeWide(file: string, rows: readonly [string, string[] | null][]): void {
  writeParquet(file, [
    { name: 'player_id', type: 'string', data: rows.map(([id]) => id) },
    { name: 'segment', type: 'string_list', data: rows.map(([, s]) => s) },
  ]);
}

describe('segment enter/exit events', { timeout: 60_000 }, () => {
  it('a load emits the difference from the previous version: entities that gain, lose, appear and disappear (wide source)', async () => {
    const file = path.join(tmpDir(), 'wide.parquet');
    writeWide(file, [['same', ['vip']], ['gains', ['vip']], ['loses', ['vip', 'whale']], ['gone', ['whale', 'lapsed']], ['swaps', ['a']], ['empty', []]]);
    const { cfg, stream } = segmentsConfig(file);
    // The first version has nothing to differ from: no events.
    expect((await load(cfg, 'segs')).segmentEvents).toBeUndefined();
    expect(await redis().exists(stream)).toBe(0);
    writeWide(file, [['same', ['vip']], ['gains', ['vip', 'whale']], ['loses', ['vip']], ['swaps', ['b']], ['new', ['whale']], ['empty', []], ['new_empty', []]]);
    const before = Date.now();
    const report = await load(cfg, 'segs', true);
    expect(report.segmentEvents).toEqual({ stream, enters: 3, exits: 4, dropped: 0 });
    const events = await eventsOf(stream);
    expect(events.map(brief).sort()).toEqual([
      'enter gains whale', 'enter new whale', 'enter swaps b',
      'exit gone lapsed', 'exit gone whale', 'exit loses whale', 'exit swaps a',
    ]);
    for (const e of events) {
      expect(e.version).toBe('2');
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(before - 5);
      expect(Date.parse(e.at)).toBeLessThanOrEqual(Date.now());
    }
    // The same content loaded again (forced): nothing changed, nothing emitted.
    await load(cfg, 'segs', true);
    expect(await eventsOf(stream)).toHaveLength(7);
  });

  it('a wide source that repeats an entity: the later row (the stored one) decides', async () => {
    const file = path.join(tmpDir(), 'dup.parquet');
    writeWide(file, [['p', ['a']]]);
    const { cfg, stream } = segmentsConfig(file);
    await load(cfg, 'segs');
    writeWide(file, [['p', ['b', 'c']], ['p', ['c', 'd']]]);
    const report = await load(cfg, 'segs', true);
    expect(report.duplicates).toBe(1);
    expect((await eventsOf(stream)).map(brief).sort()).toEqual(['enter p c', 'enter p d', 'exit p a']);
  });

  it('a long-shaped load that removes a segment from 3000 players emits exactly 3000 exits and nothing else', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'long.parquet');
    const n = 3000;
    const ids = Array.from({ length: n }, (_, i) => `p${i}`);
    // Version 1: everyone is a payer, every third player also a whale (rows spread over row groups).
    const v1 = ids.flatMap((id, i) => (i % 3 === 0 ? [[id, 'payer'], [id, 'whale']] : [[id, 'payer']]));
    writeParquet(file, [{ name: 'player_id', type: 'string', data: v1.map((r) => r[0]) }, { name: 'segment', type: 'string', data: v1.map((r) => r[1]) }], { rowGroupSize: 700 });
    const { cfg, stream } = segmentsConfig(file, { checks: { max_row_drop_fraction: 1 }, });
    await load(cfg, 'segs');
    // Version 2: "payer" removed from all; whales keep whale; the other players are gone entirely.
    const v2 = ids.filter((_, i) => i % 3 === 0).map((id) => [id, 'whale']);
    writeParquet(file, [{ name: 'player_id', type: 'string', data: v2.map((r) => r[0]) }, { name: 'segment', type: 'string', data: v2.map((r) => r[1]) }], { rowGroupSize: 300 });
    const report = await load(cfg, 'segs', true);
    expect(report.segmentEvents).toEqual({ stream, enters: 0, exits: n, dropped: 0 });
    const events = await eventsOf(stream);
    expect(events).toHaveLength(n);
    expect(new Set(events.map((e) => `${e.change} ${e.segment}`))).toEqual(new Set(['exit payer']));
    expect(new Set(events.map((e) => e.entity_id))).toEqual(new Set(ids));
  });

  it('a load past segment_events_maxlen counts the events it drops; the stream is trimmed to about maxlen', async () => {
    const file = path.join(tmpDir(), 'many.parquet');
    const ids = Array.from({ length: 2500 }, (_, i) => `m${i}`);
    writeWide(file, ids.map((id) => [id, ['x']]));
    const { cfg, stream } = segmentsConfig(file, { segment_events_maxlen: 1000, checks: { max_row_drop_fraction: 1 } });
    await load(cfg, 'segs');
    writeWide(file, ids.map((id) => [id, ['y']]));
    const report = await load(cfg, 'segs', true);
    // 2500 enters + 2500 exits; 1000 held.
    expect(report.segmentEvents).toEqual({ stream, enters: 1000, exits: 0, dropped: 4000 });
    const len = await redis().xlen(stream);
    expect(len).toBeGreaterThanOrEqual(1000);
    expect(len).toBeLessThan(1200);
  });

  it('updates emit only when the served membership changes: stale, repeated and superseded ones emit nothing', async () => {
    const file = path.join(tmpDir(), 'u.parquet');
    const now = Date.now();
    writeWide(file, [['a', ['vip']], ['b', []]]);
    utimesSync(file, new Date(now - 3_600_000), new Date(now - 3_600_000)); // as-of: 1 h ago
    const { cfg, stream } = segmentsConfig(file, { updates: { enabled: true } });
    await load(cfg, 'segs');
    const app = await serve(cfg);
    apps.push(app);
    const t = (minutesAgo: number): string => new Date(now - minutesAgo * 60_000).toISOString();
    const push = async (updates: unknown[]): Promise<void> => {
      const res = await app.http.inject({ method: 'POST', url: '/v1/datasets/segs/updates', payload: { updates } });
      expect(res.statusCode, res.body).toBe(200);
    };
    await push([
      { entity_id: 'b', op: 'add', segment: 'whale', event_time: t(30) }, // enter
      { entity_id: 'a', op: 'add', segment: 'vip', event_time: t(30) }, // already in by the batch: nothing
      { entity_id: 'a', op: 'remove', segment: 'vip', event_time: t(90) }, // older than the version: superseded, nothing
    ]);
    await push([
      { entity_id: 'b', op: 'add', segment: 'whale', event_time: t(20) }, // still in: nothing
      { entity_id: 'b', op: 'remove', segment: 'whale', event_time: t(40) }, // stale (older than the add): nothing
      { entity_id: 'a', op: 'remove', segment: 'vip', event_time: t(10) }, // exit
      { entity_id: 'a', op: 'add', segment: 'vip', event_time: t(5) }, // enter again, same batch
    ]);
    // Replaying everything changes nothing and emits nothing.
    await push([{ entity_id: 'b', op: 'add', segment: 'whale', event_time: t(30) }, { entity_id: 'a', op: 'remove', segment: 'vip', event_time: t(10) }]);
    const events = await eventsOf(stream);
    expect(events.map((e) => `${brief(e)} ${e.at}`)).toEqual([`enter b whale ${t(30)}`, `exit a vip ${t(10)}`, `enter a vip ${t(5)}`]);
    expect(new Set(events.map((e) => e.version))).toEqual(new Set(['1']));
    const served = await app.http.inject({ url: '/v1/entities/b/segments?dataset=segs' });
    expect(served.json().segments).toEqual(['whale']);
  });

  it('with updates on, a load emits the change of the served membership (batch ⊕ overlay), not of the batch rows alone', async () => {
    const file = path.join(tmpDir(), 'o.parquet');
    const now = Date.now();
    const ago = (h: number): Date => new Date(now - h * 3_600_000);
    writeWide(file, [['b', []], ['c', ['x']], ['d', []]]);
    utimesSync(file, ago(3), ago(3));
    const { cfg, stream } = segmentsConfig(file, { updates: { enabled: true } });
    await load(cfg, 'segs');
    const app = await serve(cfg);
    apps.push(app);
    const res = await app.http.inject({ method: 'POST', url: '/v1/datasets/segs/updates', payload: { updates: [
      { entity_id: 'b', op: 'add', segment: 'whale', event_time: ago(2).toISOString() }, // older than version 2: superseded by it
      { entity_id: 'c', op: 'remove', segment: 'x', event_time: ago(0.5).toISOString() }, // newer than both: still applies
    ] } });
    expect(res.statusCode, res.body).toBe(200);
    expect((await eventsOf(stream)).map(brief)).toEqual(['enter b whale', 'exit c x']);
    writeWide(file, [['b', []], ['c', []], ['d', ['y']]]);
    utimesSync(file, ago(1), ago(1));
    const report = await load(cfg, 'segs', true);
    // b: served whale (update) → not any more (the batch is newer); c: x was already gone (the update), so its batch exit is no change; d: a plain batch enter.
    expect(report.segmentEvents).toEqual({ stream, enters: 1, exits: 1, dropped: 0 });
    expect((await eventsOf(stream)).filter((e) => e.version === '2').map(brief).sort()).toEqual(['enter d y', 'exit b whale']);
  });

  it('a stream operation applied by malt consume emits its event; a features dataset cannot have an events stream', async () => {
    const file = path.join(tmpDir(), 'c.parquet');
    writeWide(file, [['a', ['vip']]]);
    const prefix = uniquePrefix();
    const stream = `${prefix}:segment_events`;
    const updates = `${prefix}:in`;
    const cfg = makeConfig({ consume: { block_ms: 100 }, datasets: [{ name: 'segs', kind: 'segments', source: { format: 'parquet', uri: file }, key: 'player_id', segment_column: 'segment', segment_events_stream: stream, updates: { enabled: true }, updates_stream: updates }] }, { prefix });
    await load(cfg, 'segs');
    const r = redis();
    run(await startStreamConsumer({ redis: r, reader: redis(), writePath: createUpdateWritePath(r, cfg), streams: consumedStreams(cfg), group: 'malt', consumer: 'c1', batchSize: 10, blockMs: 100, claimIdleMs: 30_000 }));
    await r.xadd(updates, '*', 'entity_id', 'a', 'op', 'remove', 'segment', 'vip');
    await r.xadd(updates, '*', 'entity_id', 'z', 'op', 'add', 'segment', 'new_player');
    const deadline = Date.now() + 10_000;
    while ((await r.xlen(stream)) < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect((await eventsOf(stream)).map(brief)).toEqual(['exit a vip', 'enter z new_player']);
    expect(() => makeConfig({ datasets: [{ name: 'f', source: { format: 'parquet', uri: file }, key: 'player_id', segment_events_stream: 'x' }] }))
      .toThrow(/segment_events_stream: only applies to kind: segments/);
  });
});

function run(r: ConsumerRun): void {
  runs.push(r);
}
