/**
 * gRPC interop with non-Node clients, against both gRPC engines (serving.grpc_fast_path true: the
 * node:http2 fast path for Get/BatchGet/GetSegments; false: grpc-js for everything): Debian's
 * python3-grpcio and a grpc-go program (test/support/grpc-interop.ts). Each client encodes its
 * requests and decodes the answers with its own protobuf runtime, from the server's .proto files;
 * values are compared with what HTTP returns for the same entity. Covers errors with their
 * `malt-error-code` trailer, deadlines (a SIGSTOPped redis), gzip requests, metadata and message
 * size limits, API keys over TLS, health (Check, and Watch through a shutdown), reflection,
 * unknown methods, and 200 calls in flight on one channel.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { hashToken } from '../src/auth/api-keys.js';
import type { MaltConfig } from '../src/config.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, uniquePrefix, writePlayers, type PlayerRow } from './support/fixtures.js';
import {
  type CallOutcome, type InteropClient, INTEROP_CLIENTS, type InteropSpec, buildGoInterop, descriptorSet, outcome, recordingServer, runClient, startClient, writeDescriptorSet,
} from './support/grpc-interop.js';
import { type HttpEntity, batch, bearer, get, healthCheck, protoEntity, reflection, segments, SERVING } from './support/grpc-interop-calls.js';
import { makeCa, makeLeaf } from './support/test-certs.js';
import { type TestRedis, startTestRedis } from './support/redis-server.js';

const ENGINES = [true, false] as const;
const TOKEN = 'tok-interop-reader';
// A compressible request: C-core (python) sends a message uncompressed when gzip would not make it smaller.
const LONG_ID = 'z'.repeat(200);
const prefix = uniquePrefix();
const bulk: PlayerRow[] = Array.from({ length: 200 }, (_, i) => ({ id: `n${i}`, ltv: i / 4, level: BigInt(i), country: 'FI', is_payer: i % 2 === 0, last_login: new Date(i * 1000), tags: [`t${i}`] }));
const bulkIds = bulk.map((r) => String(r.id));
// serving.max_batch_size ids: a response of ~200 KB, many HTTP/2 DATA frames and flow-control windows.
const ids1000 = [0, 1, 2, 3, 4].flatMap(() => bulkIds);
// A ~200 KB request: many DATA frames and flow-control windows the other way.
const longIds = Array.from({ length: 1000 }, (_, i) => `${'y'.repeat(200)}${i}`);
let lake: string;
let certs: string;
let descriptors: string;
let goBin: string;
// This file's own redis-server: the deadline test stops it (SIGSTOP), which would stall every other file's reads.
let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
  lake = tmpDir();
  writePlayers(path.join(lake, 'players', 'part-0.parquet'), [
    { id: 'p1', ltv: 12.5, level: 9007199254740993n, country: 'SE', is_payer: true, last_login: new Date('2024-03-01T12:34:56.789Z'), tags: ['whale', 'pvp'] },
    { id: 'p2', ltv: null, level: null, country: null, is_payer: null, last_login: null, tags: [] },
    { id: 'p3', ltv: -0.25, level: -9007199254740993n, country: '', is_payer: false, last_login: new Date(-1500), tags: null },
    ...bulk,
  ]);
  writeParquet(path.join(lake, 'segments', 'part-0.parquet'), [
    { name: 'player_id', type: 'string', data: ['p1', 'p1', 'p2'], nullable: false },
    { name: 'segment', type: 'string', data: ['whale', 'eu', 'eu'] },
  ]);
  const cfg = config(true);
  await load(cfg, 'players');
  await load(cfg, 'segments');
  certs = tmpDir();
  makeCa(certs, 'ca');
  makeLeaf(certs, 'ca', 'server', 'serverAuth');
  makeCa(certs, 'other-ca');
  descriptors = writeDescriptorSet(tmpDir());
  goBin = buildGoInterop();
}, 240_000);
afterAll(async () => {
  await redis?.stop();
});

/** One config for every app of the file: the same redis, key prefix and data; `extra` on top. */
function config(fastPath: boolean, extra: Record<string, unknown> = {}, serving: Record<string, unknown> = {}): MaltConfig {
  return makeConfig({
    serving: { grpc_fast_path: fastPath, ...serving },
    datasets: [
      featuresDataset('players', path.join(lake, 'players'), { defaults: { ltv: 0, country: 'unknown' } }),
      { name: 'segments', kind: 'segments', source: { format: 'parquet', uri: path.join(lake, 'segments') }, key: 'player_id', segment_column: 'segment' },
    ],
    ...extra,
  }, { url: redis.url, prefix });
}

function expectOk(o: CallOutcome, what: string): unknown {
  expect({ what, code: o.code, malt: o.malt_error_code }).toEqual({ what, code: 'OK', malt: null });
  return o.response;
}

function expectError(o: CallOutcome, status: string, code: string | null): void {
  expect({ code: o.code, malt: o.malt_error_code }).toEqual({ code: status, malt: code });
  if (code) expect(o.details.startsWith(`${code}: `), o.details).toBe(true);
}

/** Every client's outcomes, both clients run at the same time against the same server. */
async function runBoth(spec: Omit<InteropSpec, 'descriptors'>): Promise<Record<InteropClient, Map<string, CallOutcome>>> {
  const all = await Promise.all(INTEROP_CLIENTS.map((c) => runClient(c, { ...spec, descriptors }, goBin)));
  return Object.fromEntries(INTEROP_CLIENTS.map((c, i) => [c, all[i]!])) as Record<InteropClient, Map<string, CallOutcome>>;
}

describe.each(INTEROP_CLIENTS)('the %s client on the wire (a recording HTTP/2 server, not malt)', (client) => {
  it('sends gzip and deflate requests compressed (grpc-encoding, flag 1), others not, and its deadline as grpc-timeout', async () => {
    const rec = await recordingServer();
    try {
      const r = await runClient(client, { addr: rec.addr, descriptors, steps: [
        get('gzip', LONG_ID, ['players'], { compression: 'gzip', metadata: [['x-case', 'gzip']] }),
        get('deflate', LONG_ID, ['players'], { compression: 'deflate', metadata: [['x-case', 'deflate']] }),
        get('plain', 'p1', ['players'], { timeout_ms: 5000, metadata: [['x-case', 'plain']] }),
      ] }, goBin);
      expect([outcome(r, 'gzip').code, outcome(r, 'gzip').details, outcome(r, 'plain').code]).toEqual(['UNIMPLEMENTED', 'recorded', 'UNIMPLEMENTED']);
      const sent = (c: string) => rec.requests.find((q) => q.headers['x-case'] === c);
      expect([sent('gzip')?.headers['grpc-encoding'], sent('gzip')?.compressedFlag]).toEqual(['gzip', 1]);
      expect([sent('deflate')?.headers['grpc-encoding'], sent('deflate')?.compressedFlag]).toEqual(['deflate', 1]);
      expect([sent('plain')?.headers['grpc-encoding'] ?? 'identity', sent('plain')?.compressedFlag]).toEqual(['identity', 0]);
      expect(sent('plain')?.headers['grpc-timeout']).toMatch(/^\d{1,8}[HMSmun]$/);
      expect(sent('plain')?.headers['user-agent']).toMatch(client === 'python' ? /grpc-python/ : /grpc-go/);
    } finally {
      await rec.close();
    }
  });
});

describe.each(ENGINES)('grpc_fast_path: %s', (fastPath) => {
  describe('one open plaintext server', () => {
    let app: ServingApp;
    let out: Record<InteropClient, Map<string, CallOutcome>>;
    const http: Record<string, unknown> = {};

    beforeAll(async () => {
      app = await serve(config(fastPath));
      const entity = async (url: string): Promise<Record<string, unknown>> => {
        const res = await app.http.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(200);
        return protoEntity(res.json() as HttpEntity);
      };
      for (const id of ['p1', 'p2', 'p3', 'nobody', LONG_ID]) http[id] = await entity(`/v1/entities/${id}?datasets=players`);
      http['all:p1'] = await entity('/v1/entities/p1');
      const b = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ['p2', 'nobody', 'p1', 'p2', 'p3'], datasets: ['players'] } });
      http['batch'] = { results: (b.json() as { results: HttpEntity[] }).results.map(protoEntity) };
      const bb = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: bulkIds, datasets: ['players'] } });
      http['batch:bulk'] = { results: (bb.json() as { results: HttpEntity[] }).results.map(protoEntity) };
      const b1000 = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids1000, datasets: ['players'] } });
      expect(b1000.statusCode).toBe(200);
      http['batch:1000'] = { results: (b1000.json() as { results: HttpEntity[] }).results.map(protoEntity) };
      for (const id of ['p1', 'p3']) {
        const s = (await app.http.inject({ method: 'GET', url: `/v1/entities/${id}/segments?dataset=segments` })).json() as { entity_id: string; segments: string[]; version: string; found: boolean };
        http[`seg:${id}`] = { entity_id: s.entity_id, version: s.version, ...(s.segments.length ? { segments: [...s.segments].sort() } : {}), ...(s.found ? { found: true } : {}) };
      }
      const steps: InteropSpec['steps'] = [
        get('get-p1', 'p1', ['players']), get('get-p2', 'p2', ['players']), get('get-p3', 'p3', ['players']),
        get('get-nobody', 'nobody', ['players']), get('get-all', 'p1', []),
        batch('batch', ['p2', 'nobody', 'p1', 'p2', 'p3'], ['players']),
        segments('seg-p1', 'p1', 'segments'), segments('seg-p3', 'p3', 'segments'),
        batch('batch-1000', ids1000, ['players']),
        batch('batch-long-ids', longIds, ['players']),
        // A newer client's fields (15: varint, 16: bytes) are skipped; a repeated singular field: the last one wins.
        get('unknown-fields', 'p1', ['players'], { append_hex: '7801' + '820103616263' }),
        get('last-wins', 'nobody', ['players'], { append_hex: `0a02${Buffer.from('p1').toString('hex')}` }),
        get('meta-bin', 'p1', ['players'], { metadata: [['x-trace-bin', 'trace\u0001\u00ff'], ['x-tenant', 'eu']] }),
        get('unknown-get', 'p1', ['nope']), batch('unknown-batch', ['p1'], ['players', 'nope']), segments('unknown-seg', 'p1', 'nope'),
        get('gzip-get', LONG_ID, ['players'], { compression: 'gzip' }), batch('gzip-batch', bulkIds, ['players'], { compression: 'gzip' }),
        batch('deflate-batch', bulkIds, ['players'], { compression: 'deflate' }),
        get('msg-large-gzip', 'x'.repeat(5 * 1024 * 1024), ['players'], { compression: 'gzip' }),
        get('meta-large', 'p1', ['players'], { metadata: [['x-big', 'a'.repeat(20 * 1024)]] }),
        get('meta-ok', 'p1', ['players'], { metadata: [['x-small', 'a'.repeat(1024)]] }),
        get('msg-large', 'x'.repeat(5 * 1024 * 1024), ['players']),
        get('after-msg-large', 'p1', ['players']),
        healthCheck('health-server', ''), healthCheck('health-serving', 'malt.v1.Serving'), healthCheck('health-unknown', 'no.such.Service'),
        reflection('reflect-v1', 'v1'), reflection('reflect-v1alpha', 'v1alpha'),
        { ...reflection('reflect-files', 'v1'), requests: [{ file_containing_symbol: 'malt.v1.Serving' }] },
        { ...get('unimpl-method', 'p1', []), method: `${SERVING}Nope` }, { ...get('unimpl-service', 'p1', []), method: '/no.such.Service/Get' },
        { parallel: bulk.map((r) => get(`many-${String(r.id)}`, String(r.id), ['players'], { timeout_ms: 20_000 })) },
      ];
      out = await runBoth({ addr: `127.0.0.1:${app.grpcPort}`, steps });
    }, 60_000);
    afterAll(async () => {
      await app?.close();
    });

    describe.each(INTEROP_CLIENTS)('%s client', (client) => {
      const o = (id: string): CallOutcome => outcome(out[client], id);

      it('Get: found (every column type) and not found, exactly as HTTP returns them', () => {
        for (const id of ['p1', 'p2', 'p3', 'nobody']) expect(expectOk(o(`get-${id}`), id)).toEqual(http[id]);
        expect(expectOk(o('get-all'), 'all')).toEqual(http['all:p1']);
        // A check that these are not two empty answers: p1's int64 beyond 2^53 and its timestamp.
        expect((http['p1'] as { datasets: { features: Record<string, unknown> }[] }).datasets[0]!.features['level']).toEqual({ value: { int64_value: '9007199254740993' }, status: 'PRESENT' });
        expect((http['p1'] as { datasets: { features: Record<string, unknown> }[] }).datasets[0]!.features['last_login']).toEqual({ value: { timestamp_value: '2024-03-01T12:34:56.789Z' }, status: 'PRESENT' });
      });

      it('BatchGet: results in request order, duplicates and unknown ids included, as HTTP', () => {
        const r = expectOk(o('batch'), 'batch') as { results: { entity_id: string }[] };
        expect(r.results.map((e) => e.entity_id)).toEqual(['p2', 'nobody', 'p1', 'p2', 'p3']);
        expect(r).toEqual(http['batch']);
      });

      it('GetSegments: the segments and version, as HTTP', () => {
        for (const id of ['p1', 'p3']) {
          const r = expectOk(o(`seg-${id}`), id) as { segments?: string[] };
          expect({ ...r, ...(r.segments ? { segments: [...r.segments].sort() } : {}) }).toEqual(http[`seg:${id}`]);
        }
        expect(http['seg:p1']).toMatchObject({ segments: ['eu', 'whale'], found: true });
      });

      it('BatchGet of serving.max_batch_size (1000) ids: a ~200 KB answer as HTTP gives it, and a ~200 KB request', () => {
        const r = expectOk(o('batch-1000'), 'batch-1000') as { results: unknown[] };
        expect(r.results).toHaveLength(1000);
        expect(r).toEqual(http['batch:1000']);
        const long = expectOk(o('batch-long-ids'), 'batch-long-ids') as { results: { entity_id: string; datasets: { dataset: string; found?: boolean }[] }[] };
        expect(long.results.map((e) => e.entity_id)).toEqual(longIds);
        expect(long.results.every((e) => e.datasets.length === 1 && e.datasets[0]!.dataset === 'players' && e.datasets[0]!.found === undefined)).toBe(true);
      });

      it('unknown request fields are skipped, a repeated singular field takes its last value, binary metadata is accepted', () => {
        expect(expectOk(o('unknown-fields'), 'unknown-fields')).toEqual(http['p1']);
        expect(expectOk(o('last-wins'), 'last-wins')).toEqual(http['p1']);
        expect(expectOk(o('meta-bin'), 'meta-bin')).toEqual(http['p1']);
      });

      it('unknown dataset: NOT_FOUND with malt-error-code DATASET_NOT_FOUND and the message', () => {
        for (const id of ['unknown-get', 'unknown-batch', 'unknown-seg']) {
          expectError(o(id), 'NOT_FOUND', 'DATASET_NOT_FOUND');
          expect(o(id).details).toMatch(/nope/);
        }
      });

      it('a gzip- or deflate-compressed request is answered as an uncompressed one', () => {
        expect(expectOk(o('gzip-get'), 'gzip-get')).toEqual(http[LONG_ID]);
        expect(expectOk(o('gzip-batch'), 'gzip-batch')).toEqual(http['batch:bulk']);
        expect(expectOk(o('deflate-batch'), 'deflate-batch')).toEqual(http['batch:bulk']);
        expect((http['batch:bulk'] as { results: unknown[] }).results).toHaveLength(200);
      });

      it('request metadata over 16 KiB: RESOURCE_EXHAUSTED HEADERS_TOO_LARGE; 1 KiB is fine', () => {
        expectError(o('meta-large'), 'RESOURCE_EXHAUSTED', 'HEADERS_TOO_LARGE');
        expect(o('meta-large').details).toMatch(/at most 16384/);
        expect(expectOk(o('meta-ok'), 'meta-ok')).toEqual(http['p1']);
      });

      it('a request message over 4 MiB, plain or gzip-compressed: RESOURCE_EXHAUSTED, and the channel still serves', () => {
        expect(o('msg-large').code).toBe('RESOURCE_EXHAUSTED');
        // ~5 KB on the wire, 5 MiB once decompressed: refused too.
        expect(o('msg-large-gzip').code).toBe('RESOURCE_EXHAUSTED');
        expect(expectOk(o('after-msg-large'), 'after')).toEqual(http['p1']);
      });

      it('grpc.health.v1 Check: SERVING for the server and malt.v1.Serving, NOT_FOUND for another service', () => {
        expect(expectOk(o('health-server'), 'health')).toEqual({ status: 'SERVING' });
        expect(expectOk(o('health-serving'), 'health')).toEqual({ status: 'SERVING' });
        expect(o('health-unknown').code).toBe('NOT_FOUND');
      });

      it('server reflection (v1 and v1alpha) lists malt.v1.Serving', () => {
        for (const id of ['reflect-v1', 'reflect-v1alpha']) {
          expectOk(o(id), id);
          expect(o(id).messages).toHaveLength(1);
          const names = ((o(id).messages[0] as { list_services_response: { service: { name: string }[] } }).list_services_response.service).map((s) => s.name);
          expect(names).toContain('malt.v1.Serving');
        }
      });

      it('a client that knows the API only from reflection builds its types from it and calls Get', async () => {
        const res = o('reflect-files').messages[0] as { file_descriptor_response?: { file_descriptor_proto: string[] } };
        const files = (res.file_descriptor_response?.file_descriptor_proto ?? []).map((b) => Buffer.from(b, 'base64'));
        expect(files.length).toBeGreaterThan(0);
        const fromReflection = path.join(tmpDir(), 'reflected.pb');
        writeFileSync(fromReflection, descriptorSet(files));
        const r = await runClient(client, { addr: `127.0.0.1:${app.grpcPort}`, descriptors: fromReflection, steps: [get('get', 'p1', ['players'])] }, goBin);
        expect(expectOk(outcome(r, 'get'), 'get')).toEqual(http['p1']);
      });

      it('an unknown method or service: UNIMPLEMENTED', () => {
        expect(o('unimpl-method').code).toBe('UNIMPLEMENTED');
        expect(o('unimpl-service').code).toBe('UNIMPLEMENTED');
      });

      it('200 calls in flight on one channel are all answered, each with its own entity', () => {
        for (const r of bulk) {
          const res = expectOk(o(`many-${String(r.id)}`), String(r.id)) as { entity_id: string; datasets: { features: Record<string, { value?: unknown }> }[] };
          expect([res.entity_id, res.datasets[0]?.features['level']?.value]).toEqual([r.id, { int64_value: String(r.level) }]);
        }
      });
    });
  });

  describe('TLS with a test CA, and API keys', () => {
    let app: ServingApp;
    let ok: Record<InteropClient, Map<string, CallOutcome>>;
    let wrongCa: Record<InteropClient, Map<string, CallOutcome>>;
    let plaintext: Record<InteropClient, Map<string, CallOutcome>>;
    let p1: unknown;

    beforeAll(async () => {
      app = await serve(config(fastPath, {
        tls: { cert: path.join(certs, 'server.crt'), key: path.join(certs, 'server.key') },
        auth: { keys: [{ name: 'reader', hash: hashToken(TOKEN), scopes: ['read'] }] },
      }));
      const res = await app.http.inject({ method: 'GET', url: '/v1/entities/p1?datasets=players', headers: { authorization: `Bearer ${TOKEN}` } });
      p1 = protoEntity(res.json() as HttpEntity);
      const addr = `127.0.0.1:${app.grpcPort}`;
      const one = [get('get', 'p1', ['players'], { metadata: bearer(TOKEN) })];
      [ok, wrongCa, plaintext] = await Promise.all([
        runBoth({ addr, ca: path.join(certs, 'ca.crt'), steps: [
          get('token', 'p1', ['players'], { metadata: bearer(TOKEN) }),
          batch('batch-token', ['p1'], ['players'], { metadata: bearer(TOKEN) }),
          get('no-token', 'p1', ['players']),
          get('bad-token', 'p1', ['players'], { metadata: bearer('not-a-key') }),
          segments('seg-no-token', 'p1', 'segments'),
          healthCheck('health', ''),
        ] }),
        runBoth({ addr, ca: path.join(certs, 'other-ca.crt'), steps: one }),
        runBoth({ addr, steps: one }),
      ]);
    }, 60_000);
    afterAll(async () => {
      await app?.close();
    });

    describe.each(INTEROP_CLIENTS)('%s client', (client) => {
      it('with the CA and a key: answered as HTTP answers', () => {
        expect(expectOk(outcome(ok[client], 'token'), 'token')).toEqual(p1);
        expect(expectOk(outcome(ok[client], 'batch-token'), 'batch')).toEqual({ results: [p1] });
        expect(p1).toMatchObject({ entity_id: 'p1', datasets: [{ dataset: 'players', found: true }] });
      });

      it('without a key or with an unknown one: UNAUTHENTICATED; health needs none', () => {
        for (const id of ['no-token', 'bad-token', 'seg-no-token']) expectError(outcome(ok[client], id), 'UNAUTHENTICATED', 'UNAUTHENTICATED');
        expect(expectOk(outcome(ok[client], 'health'), 'health')).toEqual({ status: 'SERVING' });
      });

      it('a client trusting another CA, or speaking plaintext, gets UNAVAILABLE', () => {
        expect(outcome(wrongCa[client], 'get').code).toBe('UNAVAILABLE');
        expect(outcome(plaintext[client], 'get').code).toBe('UNAVAILABLE');
      });
    });
  });

  describe.each(INTEROP_CLIENTS)('a stalled redis, then a shutdown (%s client)', (client) => {
    let app: ServingApp;

    beforeAll(async () => {
      // Its own app: the stalled reads must not trip the other apps' breakers.
      app = await serve(config(fastPath, {}, { request_timeout_ms: 3000 }));
    });
    afterAll(async () => {
      await app?.close();
    });

    it('a 300 ms deadline ends the call at 300 ms (DEADLINE_EXCEEDED), not at the server cap of 3 s', async () => {
      const pid = redis.process.pid!;
      process.kill(pid, 'SIGSTOP');
      let r: Map<string, CallOutcome>;
      try {
        r = await runClient(client, { addr: `127.0.0.1:${app.grpcPort}`, descriptors, steps: [get('slow', 'p2', ['players'], { timeout_ms: 300 })] }, goBin);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const o = outcome(r, 'slow');
      // The client's timer and the server's (from grpc-timeout, bounding its Redis wait) end at the
      // same instant: whichever status arrives first, it is that one, not the 3 s cap's.
      if (o.code === 'UNAVAILABLE') expectError(o, 'UNAVAILABLE', 'STORE_UNAVAILABLE');
      else expect(o.code).toBe('DEADLINE_EXCEEDED');
      expect(o.elapsed_ms).toBeGreaterThanOrEqual(290);
      expect(o.elapsed_ms).toBeLessThan(300 + 500);
    });

    it('health Watch sees SERVING, then NOT_SERVING when the server shuts down', async () => {
      const running = startClient(client, { addr: `127.0.0.1:${app.grpcPort}`, descriptors, steps: [
        get('after-stall', 'p1', ['players']),
        { id: 'watch', method: '/grpc.health.v1.Health/Watch', kind: 'server_stream', request_type: 'grpc.health.v1.HealthCheckRequest', response_type: 'grpc.health.v1.HealthCheckResponse', request: { service: '' } },
      ] }, goBin, 10_000);
      expect(await running.messages('watch', 1)).toEqual([{ status: 'SERVING' }]);
      await app.close();
      const r = await running.done;
      expect(expectOk(outcome(r, 'after-stall'), 'after-stall')).toMatchObject({ entity_id: 'p1', datasets: [{ found: true }] });
      expect(outcome(r, 'watch').messages).toEqual([{ status: 'SERVING' }, { status: 'NOT_SERVING' }]);
      expect(['UNAVAILABLE', 'CANCELLED']).toContain(outcome(r, 'watch').code);
    });
  });
});
