/**
 * serving.grpc_fast_path (issue 10): the node:http2 fast path answers Get, BatchGet and
 * GetSegments with exactly what grpc-js sends. Two replicas of the same data, fast path on and
 * off, get the same raw HTTP/2 calls (found, not found, several datasets, batch, unknown
 * dataset, bad bytes, too-large message and metadata, a deadline against a paused Redis, bad
 * tokens, compressed requests, framing errors, forwarded methods) and must give identical
 * headers, body bytes and trailers (grpc-status, grpc-message, malt-error-code). Plus what shows
 * the fast path is the one answering (its bounded HTTP/2 settings) and a client's cancel.
 */
import { gzipSync, deflateSync } from 'node:zlib';
import http2 from 'node:http2';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { hashToken } from '../src/auth/api-keys.js';
import { loadServingPackage } from '../src/serving/grpc-server.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { featuresDataset, load, makeConfig, ownRedis, serve, tmpDir, writePlayers } from './support/fixtures.js';
import { type RawAnswer, type RawCall, RawGrpc, frame } from './support/grpc-h2-raw.js';

const redis = ownRedis();
const TOKEN = 'fast-path-reader-token';
const WRITER = 'fast-path-writer-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

const service = (grpc.loadPackageDefinition(loadServingPackage()) as unknown as { malt: { v1: { Serving: grpc.ServiceClientConstructor } } }).malt.v1.Serving.service;
const encode = (method: string, req: unknown): Buffer => service[method]!.requestSerialize(req);
const get = (req: unknown): Buffer => frame(encode('Get', req));

let fast: ServingApp;
let slow: ServingApp;
let rawFast: RawGrpc;
let rawSlow: RawGrpc;
let admin: Redis;

beforeAll(async () => {
  const dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), [
    { id: 'p1', ltv: 12.5, level: 9007199254740993n, country: 'SE', is_payer: true, last_login: new Date('2024-03-01T12:34:56.789Z'), tags: ['whale', 'pvp'] },
    { id: 'p2', ltv: null, level: null, country: null, is_payer: null, last_login: null, tags: [] },
    { id: 'p3', ltv: -0.25, level: 1n, country: 'ÅÄÖ', is_payer: false, last_login: new Date(-1500), tags: null },
  ]);
  writePlayers(path.join(dir, 'clans', 'part-0.parquet'), [
    { id: 'p1', ltv: 1, level: 2n, country: 'DE', is_payer: false, last_login: new Date(0), tags: ['x'] },
  ]);
  writeParquet(path.join(dir, 'segments', 'part-0.parquet'), [
    { name: 'player_id', type: 'string', data: ['p1', 'p1', 'p2'], nullable: false },
    { name: 'segment', type: 'string', data: ['whale', 'eu', 'eu'] },
  ]);
  const doc = (fastPath: boolean): Record<string, unknown> => ({
    // No result cache: each call reads Redis, so a paused Redis stalls every call alike.
    serving: { max_batch_size: 5, request_timeout_ms: 700, grpc_fast_path: fastPath },
    cache: { max_bytes: 0 },
    auth: { keys: [{ name: 'reader', hash: hashToken(TOKEN), scopes: ['read'] }, { name: 'writer', hash: hashToken(WRITER), scopes: ['write'] }] },
    datasets: [
      featuresDataset('players', path.join(dir, 'players'), { defaults: { ltv: 0 } }),
      featuresDataset('clans', path.join(dir, 'clans')),
      { name: 'segments', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'segments') }, key: 'player_id', segment_column: 'segment' },
    ],
  });
  const fastConfig = makeConfig(doc(true), { url: redis.url, prefix: 'fastpath' });
  const slowConfig = makeConfig(doc(false), { url: redis.url, prefix: 'fastpath' });
  expect(fastConfig.serving.grpcFastPath).toBe(true);
  expect(slowConfig.serving.grpcFastPath).toBe(false);
  for (const d of ['players', 'clans', 'segments']) await load(fastConfig, d);
  fast = await serve(fastConfig);
  slow = await serve(slowConfig);
  rawFast = new RawGrpc(fast.grpcPort);
  rawSlow = new RawGrpc(slow.grpcPort);
  admin = new Redis(redis.url);
});

afterAll(async () => {
  rawFast?.close();
  rawSlow?.close();
  admin?.disconnect();
  await fast?.close();
  await slow?.close();
});

async function both(c: RawCall): Promise<{ fast: RawAnswer; slow: RawAnswer }> {
  const [f, s] = await Promise.all([rawFast.call(c), rawSlow.call(c)]);
  return { fast: f, slow: s };
}

const S = '/malt.v1.Serving/';
const CASES: Record<string, RawCall> = {
  'Get, found': { path: `${S}Get`, headers: AUTH, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'Get, not found': { path: `${S}Get`, headers: AUTH, body: get({ entity_id: 'nobody', datasets: ['players'] }) },
  'Get, several datasets': { path: `${S}Get`, headers: AUTH, body: get({ entity_id: 'p1', datasets: ['clans', 'players'] }) },
  'Get, every dataset (none named)': { path: `${S}Get`, headers: AUTH, body: get({ entity_id: 'p3', datasets: [] }) },
  'Get, empty message': { path: `${S}Get`, headers: AUTH, body: frame(Buffer.alloc(0)) },
  'Get, unknown dataset': { path: `${S}Get`, headers: AUTH, body: get({ entity_id: 'p1', datasets: ['nope'] }) },
  'Get, bad entity id': { path: `${S}Get`, headers: AUTH, body: get({ entity_id: 'x'.repeat(1000), datasets: ['players'] }) },
  'Get, unknown fields are skipped': { path: `${S}Get`, headers: AUTH, body: frame(Buffer.concat([Buffer.from([0x78, 0x2a, 0x7d, 1, 2, 3, 4, 0x79, 1, 2, 3, 4, 5, 6, 7, 8]), encode('Get', { entity_id: 'p1', datasets: ['players'] }), Buffer.from([0x7a, 0x01, 0x41])])) },
  'Get, bad bytes (truncated string)': { path: `${S}Get`, headers: AUTH, body: frame(Buffer.from([0x0a, 0x05, 0x70])) },
  'Get, bad bytes (field 1 as a varint)': { path: `${S}Get`, headers: AUTH, body: frame(Buffer.from([0x0a, 0x02, 0x70, 0x31, 0x08])) },
  'Get, bad bytes (wire type 7)': { path: `${S}Get`, headers: AUTH, body: frame(Buffer.from([0x1f, 0x00])) },
  'Get, long varint length (protobufjs path)': { path: `${S}Get`, headers: AUTH, body: frame(Buffer.from([0x0a, 0x82, 0x80, 0x80, 0x80, 0x00, 0x70, 0x31])) },
  'BatchGet': { path: `${S}BatchGet`, headers: AUTH, body: frame(encode('BatchGet', { entity_ids: ['p1', 'nobody', 'p2', 'p1'], datasets: ['players', 'clans'] })) },
  'BatchGet, too large': { path: `${S}BatchGet`, headers: AUTH, body: frame(encode('BatchGet', { entity_ids: ['a', 'b', 'c', 'd', 'e', 'f'], datasets: [] })) },
  'GetSegments, found': { path: `${S}GetSegments`, headers: AUTH, body: frame(encode('GetSegments', { entity_id: 'p1', dataset: 'segments' })) },
  'GetSegments, not found': { path: `${S}GetSegments`, headers: AUTH, body: frame(encode('GetSegments', { entity_id: 'nobody', dataset: 'segments' })) },
  'GetSegments, a features dataset': { path: `${S}GetSegments`, headers: AUTH, body: frame(encode('GetSegments', { entity_id: 'p1', dataset: 'players' })) },
  'GetSegments, no dataset': { path: `${S}GetSegments`, headers: AUTH, body: frame(encode('GetSegments', { entity_id: 'p1' })) },
  'too-large message (4 MiB + 1)': { path: `${S}Get`, headers: AUTH, body: Buffer.concat([Buffer.from([0, 0, 0x40, 0, 1]), Buffer.alloc(100)]) },
  'too-large metadata (17 KiB)': { path: `${S}Get`, headers: { ...AUTH, 'x-big': 'a'.repeat(17 * 1024) }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'metadata just under the bound': { path: `${S}Get`, headers: { ...AUTH, 'x-big': 'a'.repeat(15 * 1024) }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'binary metadata': { path: `${S}Get`, headers: { ...AUTH, 'x-trace-bin': Buffer.from('hello').toString('base64') }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'no token': { path: `${S}Get`, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'bad token': { path: `${S}Get`, headers: { authorization: 'Bearer wrong' }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'token without the read scope': { path: `${S}Get`, headers: { authorization: `Bearer ${WRITER}` }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'bad token and bad bytes (auth first)': { path: `${S}Get`, headers: { authorization: 'Bearer wrong' }, body: frame(Buffer.from([0x0a, 0x05])) },
  'gzip-compressed request': { path: `${S}Get`, headers: { ...AUTH, 'grpc-encoding': 'gzip' }, body: frame(gzipSync(encode('Get', { entity_id: 'p1', datasets: ['players'] })), true) },
  'deflate-compressed request': { path: `${S}BatchGet`, headers: { ...AUTH, 'grpc-encoding': 'deflate' }, body: frame(deflateSync(encode('BatchGet', { entity_ids: ['p1', 'p2'], datasets: ['players'] })), true) },
  'gzip header, message not compressed': { path: `${S}Get`, headers: { ...AUTH, 'grpc-encoding': 'gzip' }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'corrupt gzip': { path: `${S}Get`, headers: { ...AUTH, 'grpc-encoding': 'gzip' }, body: frame(Buffer.from('not gzip at all'), true) },
  'gzip bomb past 4 MiB': { path: `${S}Get`, headers: { ...AUTH, 'grpc-encoding': 'gzip' }, body: frame(gzipSync(Buffer.alloc(5 * 1024 * 1024)), true) },
  'unsupported encoding': { path: `${S}Get`, headers: { ...AUTH, 'grpc-encoding': 'snappy' }, body: frame(Buffer.from([1, 2, 3]), true) },
  'no message': { path: `${S}Get`, headers: AUTH, body: Buffer.alloc(0) },
  'two messages': { path: `${S}Get`, headers: AUTH, body: Buffer.concat([get({ entity_id: 'p1' }), get({ entity_id: 'p2' })]) },
  'a message and a partial one': { path: `${S}Get`, headers: AUTH, body: Buffer.concat([get({ entity_id: 'p1', datasets: ['players'] }), Buffer.from([0, 0, 0])]) },
  'grpc-timeout 2S': { path: `${S}Get`, headers: { ...AUTH, 'grpc-timeout': '2S' }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'grpc-timeout 1H': { path: `${S}Get`, headers: { ...AUTH, 'grpc-timeout': '1H' }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'grpc-timeout 3000000u': { path: `${S}Get`, headers: { ...AUTH, 'grpc-timeout': '3000000u' }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'grpc-timeout not a timeout': { path: `${S}Get`, headers: { ...AUTH, 'grpc-timeout': 'soon' }, body: get({ entity_id: 'p1', datasets: ['players'] }) },
  'bad timeout and too-large metadata': { path: `${S}Get`, headers: { ...AUTH, 'grpc-timeout': 'soon', 'x-big': 'a'.repeat(17 * 1024) }, body: get({ entity_id: 'p1' }) },
  'unknown method (forwarded)': { path: `${S}Nope`, headers: AUTH, body: get({ entity_id: 'p1' }) },
  'unknown service (forwarded)': { path: '/other.Service/Get', headers: AUTH, body: get({ entity_id: 'p1' }) },
  'not gRPC (forwarded: 415)': { path: `${S}Get`, headers: AUTH, contentType: 'application/json', body: Buffer.from('{}') },
  'Push without the write scope (forwarded)': { path: `${S}Push`, headers: AUTH, body: frame(encode('Push', { dataset: 'players', updates: [] })) },
  'Push with the write scope (forwarded)': { path: `${S}Push`, headers: { authorization: `Bearer ${WRITER}` }, body: frame(encode('Push', { dataset: 'players', updates: [{ entity_id: 'p1', op: 'upsert' }] })) },
  'Push with too-large metadata (forwarded)': { path: `${S}Push`, headers: { authorization: `Bearer ${WRITER}`, 'x-big': 'a'.repeat(40 * 1024) }, body: frame(encode('Push', { dataset: 'players', updates: [] })) },
  'reflection (forwarded, a bidi stream)': { path: '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', body: frame(Buffer.from([0x3a, 0x00])) },
  'health Check (forwarded)': { path: '/grpc.health.v1.Health/Check', body: frame(Buffer.from([0x0a, 0x0f, ...Buffer.from('malt.v1.Serving')])) },
};

describe('fast path on and off answer the same bytes', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(name, async () => {
      const r = await both(c);
      expect(r.fast).toEqual(r.slow);
      // Every answer is a gRPC answer (no resets), with a status in headers or trailers.
      expect(r.fast.rst).toBeNull();
    });
  }

  it('gives a real status for the cases that are meant to fail (the table is not all OK)', async () => {
    const statuses = await Promise.all(Object.values(CASES).map(async (c) => {
      const a = await rawFast.call(c);
      return String(a.trailers['grpc-status'] ?? a.headers['grpc-status'] ?? a.headers[':status']);
    }));
    expect(new Set(statuses)).toEqual(new Set(['0', '3', '5', '7', '8', '9', '12', '13', '16', '415']));
  });

  // With Redis answering, a deadline this short races the Redis reply (on either server), so Redis is paused.
  for (const timeout of ['1m', '500n']) {
    it(`a deadline of ${timeout} against a paused Redis: DEADLINE_EXCEEDED from both`, async () => {
      await admin.call('CLIENT', 'PAUSE', '400', 'ALL');
      const c: RawCall = { path: `${S}Get`, headers: { ...AUTH, 'grpc-timeout': timeout }, body: get({ entity_id: 'p2', datasets: ['players'] }) };
      const r = await both(c);
      expect(r.fast).toEqual(r.slow);
      expect(r.fast.headers['grpc-status']).toBe('4');
      expect(r.fast.headers['grpc-message']).toBe('Deadline%20exceeded');
      await new Promise((res) => setTimeout(res, 450));
    });
  }

  it('a deadline longer than serving.request_timeout_ms: the server gives up at its own cap on both', async () => {
    await admin.call('CLIENT', 'PAUSE', '1200', 'ALL');
    const c: RawCall = { path: `${S}Get`, headers: { ...AUTH, 'grpc-timeout': '5S' }, body: get({ entity_id: 'p3', datasets: ['clans'] }) };
    const started = performance.now();
    const r = await both(c);
    const elapsed = performance.now() - started;
    expect(r.fast).toEqual(r.slow);
    expect(r.fast.headers['grpc-status']).toBe('14');
    expect(r.fast.headers['malt-error-code']).toBe('STORE_UNAVAILABLE');
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(1100);
    await new Promise((res) => setTimeout(res, 1250 - elapsed));
  });
});

describe('the fast path', () => {
  it('owns the port: its SETTINGS bound concurrent streams (1000) and header lists (1 MiB), where grpc-js leaves Node\'s defaults', async () => {
    const settings = async (port: number): Promise<http2.Settings> => {
      const s = http2.connect(`http://127.0.0.1:${port}`);
      s.on('error', () => undefined);
      await new Promise<void>((res) => s.once('remoteSettings', () => res()));
      const r = s.remoteSettings;
      s.close();
      return r;
    };
    expect(await settings(fast.grpcPort)).toMatchObject({ maxConcurrentStreams: 1000, maxHeaderListSize: 1024 * 1024 });
    expect((await settings(slow.grpcPort)).maxConcurrentStreams).not.toBe(1000);
  });

  it('reads a compressed flag under grpc-encoding identity as grpc-js does (the message as it is)', async () => {
    const c: RawCall = { path: `${S}Get`, headers: AUTH, body: frame(encode('Get', { entity_id: 'p1', datasets: ['players'] }), true) };
    const r = await both(c);
    expect(r.fast).toEqual(r.slow);
    expect(r.fast.trailers['grpc-status']).toBe('0');
  });

  it('a client that resets the stream abandons the call; the connection keeps serving', async () => {
    await admin.call('CLIENT', 'PAUSE', '300', 'ALL');
    const s = http2.connect(`http://127.0.0.1:${fast.grpcPort}`);
    s.on('error', () => undefined);
    const req = s.request({ ':method': 'POST', ':path': `${S}Get`, 'content-type': 'application/grpc', te: 'trailers', ...AUTH });
    req.on('error', () => undefined);
    let answered = false;
    req.on('response', () => { answered = true; });
    req.end(get({ entity_id: 'p1', datasets: ['players'] }));
    await new Promise((res) => setTimeout(res, 50));
    req.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((res) => setTimeout(res, 400));
    expect(answered).toBe(false);
    const again = await rawFast.call(CASES['Get, found']!);
    expect(again.trailers['grpc-status']).toBe('0');
    s.close();
  });

  // Last: it closes the fast replica.
  it('close(): a health Watch through the fast path sees NOT_SERVING, an in-flight read drains, then the port is closed', async () => {
    const { service: healthService } = await import('grpc-health-check');
    const Health = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
    const h = new Health(`127.0.0.1:${fast.grpcPort}`, grpc.credentials.createInsecure()) as unknown as { Watch: (req: unknown) => grpc.ClientReadableStream<{ status: string }>; close: () => void };
    const seen: string[] = [];
    const watch = h.Watch({ service: 'malt.v1.Serving' });
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    watch.on('error', () => undefined);
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no SERVING on the Watch stream: ${seen.join(',')}`)), 5000);
      watch.on('data', () => { clearTimeout(t); res(); });
    });
    expect(seen).toEqual(['SERVING']);
    // A read waiting on a paused Redis while close() starts: it still gets its answer.
    await admin.call('CLIENT', 'PAUSE', '300', 'ALL');
    const inFlight = rawFast.call(CASES['Get, found']!);
    await new Promise((res) => setTimeout(res, 50));
    const closed = fast.close();
    const answer = await inFlight;
    expect(answer.trailers['grpc-status']).toBe('0');
    await closed;
    expect(seen).toContain('NOT_SERVING');
    h.close();
    const refused = await new Promise<boolean>((res) => {
      const s = http2.connect(`http://127.0.0.1:${fast.grpcPort}`);
      s.on('error', () => res(true));
      s.on('connect', () => { s.destroy(); res(false); });
    });
    expect(refused).toBe(true);
  });
});
