/**
 * The gRPC API end to end: a real grpc-js client on 127.0.0.1 against a serving app whose
 * datasets were loaded from Parquet into a real redis-server. Checks typed values (the Value
 * oneof), statuses, request order, the error catalog's gRPC mapping, health, reflection and
 * client deadlines.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import type { LoadReport } from '../src/loaders/load-dataset.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';
import { type TestRedis, startTestRedis } from './support/redis-server.js';

const LAST_LOGIN = new Date('2024-03-01T12:34:56.789Z');

interface ProtoValue {
  kind?: string;
  int64_value?: string;
  double_value?: number;
  string_value?: string;
  bool_value?: boolean;
  timestamp_value?: { seconds: string; nanos: number };
  string_list_value?: { values: string[] };
}
interface ProtoFeature { value: ProtoValue | null; status: string }
interface ProtoDataset { dataset: string; version: string; found: boolean; features: Record<string, ProtoFeature> }
interface ProtoEntity { entity_id: string; datasets: ProtoDataset[] }
interface ProtoSegments { entity_id: string; segments: string[]; version: string; found: boolean; degraded: string }

let dir: string;
let config: MaltConfig;
let app: ServingApp;
let client: ServingClient;
let playersReport: LoadReport;

beforeAll(async () => {
  dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), [
    { id: 'p1', ltv: 12.5, level: 9007199254740993n, country: 'SE', is_payer: true, last_login: LAST_LOGIN, tags: ['whale', 'pvp'] },
    { id: 'p2', ltv: null, level: null, country: null, is_payer: null, last_login: null, tags: [] },
    { id: 'p3', ltv: -0.25, level: -9007199254740993n, country: '', is_payer: false, last_login: new Date(-1500), tags: null },
  ]);
  writeParquet(path.join(dir, 'segments', 'part-0.parquet'), [
    { name: 'player_id', type: 'string', data: ['p1', 'p1', 'p2'], nullable: false },
    { name: 'segment', type: 'string', data: ['whale', 'eu', 'eu'] },
  ]);
  config = makeConfig({
    serving: { max_batch_size: 5 },
    datasets: [
      featuresDataset('players', path.join(dir, 'players'), { defaults: { ltv: 0, country: 'unknown' } }),
      { name: 'segments', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'segments') }, key: 'player_id', segment_column: 'segment' },
      { name: 'never_loaded', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'nothing') }, key: 'player_id', segment_column: 'segment', allow_empty: true },
    ],
  });
  playersReport = await load(config, 'players');
  await load(config, 'segments');
  app = await serve(config);
  client = servingClient(`127.0.0.1:${app.grpcPort}`);
});

afterAll(async () => {
  client?.close();
  await app?.close();
});

const P1: Record<string, ProtoFeature> = {
  ltv: { value: { kind: 'double_value', double_value: 12.5 }, status: 'PRESENT' },
  level: { value: { kind: 'int64_value', int64_value: '9007199254740993' }, status: 'PRESENT' },
  country: { value: { kind: 'string_value', string_value: 'SE' }, status: 'PRESENT' },
  is_payer: { value: { kind: 'bool_value', bool_value: true }, status: 'PRESENT' },
  last_login: { value: { kind: 'timestamp_value', timestamp_value: { seconds: '1709296496', nanos: 789_000_000 } }, status: 'PRESENT' },
  tags: { value: { kind: 'string_list_value', string_list_value: { values: ['whale', 'pvp'] } }, status: 'PRESENT' },
};

const P2: Record<string, ProtoFeature> = {
  ltv: { value: { kind: 'double_value', double_value: 0 }, status: 'DEFAULTED' },
  level: { value: null, status: 'NULL_VALUE' },
  country: { value: { kind: 'string_value', string_value: 'unknown' }, status: 'DEFAULTED' },
  is_payer: { value: null, status: 'NULL_VALUE' },
  last_login: { value: null, status: 'NULL_VALUE' },
  tags: { value: { kind: 'string_list_value', string_list_value: { values: [] } }, status: 'PRESENT' },
};

/** Strips oneof members that are not the chosen one, whatever the loader's defaults filled in. */
function chosen(f: ProtoFeature | undefined): ProtoFeature | undefined {
  if (!f || f.value === null || f.value === undefined) return f;
  const kind = f.value.kind as keyof ProtoValue | undefined;
  if (!kind) return f;
  return { value: { kind, [kind]: f.value[kind] } as ProtoValue, status: f.status };
}

function features(d: ProtoDataset | undefined): Record<string, ProtoFeature | undefined> {
  if (!d) throw new Error('missing dataset result');
  return Object.fromEntries(Object.entries(d.features).map(([k, f]) => [k, chosen(f)]));
}

async function expectGrpcError(p: Promise<unknown>, status: grpc.status, code: string): Promise<void> {
  const err = await p.then(() => null, (e: unknown) => e as grpc.ServiceError);
  expect(err, `expected ${code}`).not.toBeNull();
  expect(err?.code).toBe(status);
  expect(err?.details.startsWith(`${code}: `)).toBe(true);
  expect(err?.metadata.get('malt-error-code')).toEqual([code]);
}

describe('Serving.Get', () => {
  it('returns every column type with exact values in the Value oneof and the version served', async () => {
    const r = await call<ProtoEntity>(client, 'Get', { entity_id: 'p1', datasets: ['players'] });
    expect(r.entity_id).toBe('p1');
    expect(r.datasets).toHaveLength(1);
    expect(r.datasets[0]).toMatchObject({ dataset: 'players', version: String(playersReport.version), found: true });
    expect(features(r.datasets[0])).toEqual(P1);
  });

  it('reports nulls as NULL_VALUE with no value, defaults as DEFAULTED, an empty list as PRESENT', async () => {
    const r = await call<ProtoEntity>(client, 'Get', { entity_id: 'p2', datasets: ['players'] });
    expect(r.datasets[0]?.found).toBe(true);
    expect(features(r.datasets[0])).toEqual(P2);
  });

  it('serves negative int64 and pre-epoch timestamps exactly, and a null list as NULL_VALUE', async () => {
    const r = await call<ProtoEntity>(client, 'Get', { entity_id: 'p3', datasets: ['players'] });
    const f = features(r.datasets[0]);
    expect(f['level']).toEqual({ value: { kind: 'int64_value', int64_value: '-9007199254740993' }, status: 'PRESENT' });
    expect(f['ltv']).toEqual({ value: { kind: 'double_value', double_value: -0.25 }, status: 'PRESENT' });
    // -1.5 s: seconds rounds down, nanos stays non-negative (google.protobuf.Timestamp rules).
    expect(f['last_login']).toEqual({ value: { kind: 'timestamp_value', timestamp_value: { seconds: '-2', nanos: 500_000_000 } }, status: 'PRESENT' });
    expect(f['country']).toEqual({ value: { kind: 'string_value', string_value: '' }, status: 'PRESENT' });
    expect(f['is_payer']).toEqual({ value: { kind: 'bool_value', bool_value: false }, status: 'PRESENT' });
    expect(f['tags']).toEqual({ value: null, status: 'NULL_VALUE' });
  });

  it('answers an unknown id with found=false, NOT_FOUND and DEFAULTED', async () => {
    const r = await call<ProtoEntity>(client, 'Get', { entity_id: 'nobody', datasets: ['players'] });
    expect(r.datasets[0]?.found).toBe(false);
    expect(features(r.datasets[0])).toEqual({
      ltv: { value: { kind: 'double_value', double_value: 0 }, status: 'DEFAULTED' },
      level: { value: null, status: 'NOT_FOUND' },
      country: { value: { kind: 'string_value', string_value: 'unknown' }, status: 'DEFAULTED' },
      is_payer: { value: null, status: 'NOT_FOUND' },
      last_login: { value: null, status: 'NOT_FOUND' },
      tags: { value: null, status: 'NOT_FOUND' },
    });
  });

  it('serves every features dataset when datasets is empty', async () => {
    const r = await call<ProtoEntity>(client, 'Get', { entity_id: 'p1', datasets: [] });
    expect(r.datasets.map((d) => d.dataset)).toEqual(['players']);
    expect(features(r.datasets[0])).toEqual(P1);
  });
});

describe('Serving.BatchGet', () => {
  it('returns results in request order, with duplicates and unknown ids', async () => {
    const ids = ['p2', 'nobody', 'p1', 'p2', 'p3'];
    const r = await call<{ results: ProtoEntity[] }>(client, 'BatchGet', { entity_ids: ids, datasets: ['players'] });
    expect(r.results.map((e) => e.entity_id)).toEqual(ids);
    expect(features(r.results[0]?.datasets[0])).toEqual(P2);
    expect(r.results[1]?.datasets[0]?.found).toBe(false);
    expect(features(r.results[2]?.datasets[0])).toEqual(P1);
    expect(features(r.results[3]?.datasets[0])).toEqual(P2);
    expect(r.results[4]?.datasets[0]?.features['level']?.value?.int64_value).toBe('-9007199254740993');
    for (const e of r.results) expect(e.datasets[0]?.version).toBe(String(playersReport.version));
  });
});

describe('Serving.GetSegments', () => {
  it('lists the segments of an entity with the version', async () => {
    const r = await call<ProtoSegments>(client, 'GetSegments', { entity_id: 'p1', dataset: 'segments' });
    expect(r.entity_id).toBe('p1');
    expect([...r.segments].sort()).toEqual(['eu', 'whale']);
    expect(r.found).toBe(true);
    expect(r.version).toBe('1');
  });

  it('answers an entity without segments with an empty list and found=false', async () => {
    const r = await call<ProtoSegments>(client, 'GetSegments', { entity_id: 'p3', dataset: 'segments' });
    expect(r).toEqual({ entity_id: 'p3', segments: [], version: '1', found: false, degraded: 'NOT_DEGRADED' });
  });
});

describe('errors map through the catalog', () => {
  it('unknown dataset → NOT_FOUND DATASET_NOT_FOUND', async () => {
    await expectGrpcError(call(client, 'Get', { entity_id: 'p1', datasets: ['nope'] }), grpc.status.NOT_FOUND, 'DATASET_NOT_FOUND');
    await expectGrpcError(call(client, 'BatchGet', { entity_ids: ['p1'], datasets: ['players', 'nope'] }), grpc.status.NOT_FOUND, 'DATASET_NOT_FOUND');
    await expectGrpcError(call(client, 'GetSegments', { entity_id: 'p1', dataset: 'nope' }), grpc.status.NOT_FOUND, 'DATASET_NOT_FOUND');
  });

  it('empty, over-long and control-character ids → INVALID_ARGUMENT INVALID_ENTITY_ID', async () => {
    await expectGrpcError(call(client, 'Get', { entity_id: '', datasets: ['players'] }), grpc.status.INVALID_ARGUMENT, 'INVALID_ENTITY_ID');
    await expectGrpcError(call(client, 'Get', { entity_id: 'x'.repeat(257), datasets: ['players'] }), grpc.status.INVALID_ARGUMENT, 'INVALID_ENTITY_ID');
    await expectGrpcError(call(client, 'Get', { entity_id: 'ü'.repeat(129), datasets: ['players'] }), grpc.status.INVALID_ARGUMENT, 'INVALID_ENTITY_ID');
    await expectGrpcError(call(client, 'Get', { entity_id: 'a\u0001b', datasets: ['players'] }), grpc.status.INVALID_ARGUMENT, 'INVALID_ENTITY_ID');
    await expectGrpcError(call(client, 'BatchGet', { entity_ids: ['p1', ''], datasets: [] }), grpc.status.INVALID_ARGUMENT, 'INVALID_ENTITY_ID');
    await expectGrpcError(call(client, 'GetSegments', { entity_id: 'a\u007fb', dataset: 'segments' }), grpc.status.INVALID_ARGUMENT, 'INVALID_ENTITY_ID');
    const ok = await call<ProtoEntity>(client, 'Get', { entity_id: 'y'.repeat(256), datasets: ['players'] });
    expect(ok.datasets[0]?.found).toBe(false);
  });

  it('batch over serving.max_batch_size → INVALID_ARGUMENT BATCH_TOO_LARGE', async () => {
    await expectGrpcError(call(client, 'BatchGet', { entity_ids: ['a', 'b', 'c', 'd', 'e', 'f'], datasets: [] }), grpc.status.INVALID_ARGUMENT, 'BATCH_TOO_LARGE');
  });

  it('segments call on a features dataset → INVALID_ARGUMENT NOT_A_SEGMENTS_DATASET', async () => {
    await expectGrpcError(call(client, 'GetSegments', { entity_id: 'p1', dataset: 'players' }), grpc.status.INVALID_ARGUMENT, 'NOT_A_SEGMENTS_DATASET');
  });

  it('segments call without a dataset → INVALID_ARGUMENT', async () => {
    await expectGrpcError(call(client, 'GetSegments', { entity_id: 'p1', dataset: '' }), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
  });

  it('dataset declared but never loaded → UNAVAILABLE DATASET_NOT_LOADED', async () => {
    await expectGrpcError(call(client, 'Get', { entity_id: 'p1', datasets: ['never_loaded'] }), grpc.status.UNAVAILABLE, 'DATASET_NOT_LOADED');
    await expectGrpcError(call(client, 'GetSegments', { entity_id: 'p1', dataset: 'never_loaded' }), grpc.status.UNAVAILABLE, 'DATASET_NOT_LOADED');
  });
});

describe('standard services', () => {
  it('grpc.health.v1.Health reports SERVING for the server and for malt.v1.Serving', async () => {
    const Health = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
    const health = new Health(`127.0.0.1:${app.grpcPort}`, grpc.credentials.createInsecure()) as unknown as ServingClient;
    try {
      expect(await call<{ status: string }>(health, 'Check', { service: '' })).toEqual({ status: 'SERVING' });
      expect(await call<{ status: string }>(health, 'Check', { service: 'malt.v1.Serving' })).toEqual({ status: 'SERVING' });
      const unknown = await call(health, 'Check', { service: 'no.such.Service' }).then(() => null, (e: unknown) => e as grpc.ServiceError);
      expect(unknown?.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      health.close();
    }
  });

  it('server reflection lists malt.v1.Serving and serves its file descriptor', async () => {
    const require = createRequire(import.meta.url);
    const protoPath = path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');
    const def = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } };
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${app.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const stream = (reflection as unknown as { ServerReflectionInfo: (opts: grpc.CallOptions) => grpc.ClientDuplexStream<unknown, Record<string, unknown>> })
        .ServerReflectionInfo({ deadline: Date.now() + 5000 });
      const responses: Record<string, unknown>[] = [];
      const done = new Promise<void>((resolve, reject) => {
        stream.on('data', (m: Record<string, unknown>) => responses.push(m));
        stream.on('error', reject);
        stream.on('end', resolve);
      });
      stream.write({ list_services: '' });
      stream.write({ file_containing_symbol: 'malt.v1.Serving' });
      stream.end();
      await done;
      expect(responses).toHaveLength(2);
      const services = (responses[0]?.['list_services_response'] as { service: { name: string }[] }).service.map((s) => s.name);
      expect(services).toContain('malt.v1.Serving');
      const files = (responses[1]?.['file_descriptor_response'] as { file_descriptor_proto: Buffer[] }).file_descriptor_proto;
      expect(files.length).toBeGreaterThan(0);
      // The descriptor names the package, the service and its methods.
      const text = files.map((f) => Buffer.from(f).toString('latin1')).join('');
      for (const name of ['malt.v1', 'Serving', 'GetRequest', 'BatchGet', 'GetSegments', 'EntityResult']) expect(text).toContain(name);
    } finally {
      reflection.close();
    }
  });
});

describe('client deadlines', () => {
  let redis: TestRedis;
  let slowApp: ServingApp;
  let slowClient: ServingClient;
  let admin: Redis;

  beforeAll(async () => {
    // A dedicated redis-server, because pausing it stalls every client of that server.
    redis = await startTestRedis();
    const cfg = makeConfig({
      serving: { request_timeout_ms: 700 },
      datasets: [featuresDataset('players', path.join(dir, 'players'))],
    }, { url: redis.url });
    await load(cfg, 'players');
    slowApp = await serve(cfg);
    slowClient = servingClient(`127.0.0.1:${slowApp.grpcPort}`);
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    slowClient?.close();
    await slowApp?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it('a client deadline shorter than the Redis work returns within it; a concurrent caller with a longer deadline still succeeds', async () => {
    // The server's own cap is 700 ms; the first client's 200 ms deadline bounds only that client.
    const served = slowApp.tracker.get('players');
    expect(served).toBeDefined();
    // Redis answers nobody for 450 ms (CLIENT UNPAUSE would itself wait, so the pause just ends).
    await admin.call('CLIENT', 'PAUSE', '450', 'ALL');
    const started = performance.now();
    const short = call(slowClient, 'Get', { entity_id: 'p1', datasets: ['players'] }, 200).then(() => null, (e: unknown) => e as grpc.ServiceError);
    // Joins the same Redis read (single-flight), under its own, longer deadline.
    const long = call<ProtoEntity>(slowClient, 'Get', { entity_id: 'p1', datasets: ['players'] }, 2000);
    const err = await short;
    const elapsed = performance.now() - started;
    expect(err).not.toBeNull();
    expect([grpc.status.DEADLINE_EXCEEDED, grpc.status.UNAVAILABLE]).toContain(err?.code);
    expect(elapsed).toBeLessThan(200 + 150);
    const r = await long;
    expect(r.datasets[0]?.features['level']?.value?.int64_value).toBe('9007199254740993');
    // The shared read ended when Redis answered; nothing is left in flight.
    expect(slowApp.lookup.cache.pending(`${served?.cachePrefix}p1`)).toBeUndefined();
  });

  it('the server stops waiting for a stalled Redis at serving.request_timeout_ms', async () => {
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = performance.now();
    const err = await call(slowClient, 'Get', { entity_id: 'p2', datasets: ['players'] }, 5000).then(() => null, (e: unknown) => e as grpc.ServiceError);
    const elapsed = performance.now() - started;
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).toMatch(/^STORE_UNAVAILABLE: /);
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(700 + 250);
    await new Promise((r) => setTimeout(r, 1500 - elapsed + 50)); // let the pause end before the next test
  });
});
