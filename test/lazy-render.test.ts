/**
 * Lazy protobuf rendering (serving/dataset-result.ts): a result read from Redis renders its JSON
 * at once and its protobuf on first use by gRPC. The protobuf must be the bytes an eager render
 * of the same features gives, whichever transport asks first, and the cache must be charged for
 * it before it exists (protoBound), so the byte bound holds for an entry's whole life.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import type { ColumnType, TypedValue } from '../src/column-types.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { DatasetResult, type Feature, protoBound } from '../src/serving/dataset-result.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';

const LONG = 'y'.repeat(16_384);
const EDGES: [ColumnType, TypedValue][] = [
  ['int64', '-1'], ['int64', '-9223372036854775808'], ['int64', '9223372036854775807'], ['int64', '0'],
  ['double', 0], ['double', -0], ['double', 1], ['double', Number.NaN], ['double', -Infinity], ['double', 5e-324], ['double', -1.7976931348623157e308],
  ['string', ''], ['string', 'Åland ü 東京 🎮'], ['string', '\ud800'], ['string', '"\\\n\u0001'], ['string', 'x'.repeat(20_000)],
  ['bool', true], ['bool', false],
  ['timestamp', -62135596800000000n], ['timestamp', 253402300799999999n], ['timestamp', 0n], ['timestamp', 1n],
  ['string_list', []], ['string_list', ['a']], ['string_list', Array.from({ length: 40 }, () => LONG)], ['string_list', Array.from({ length: 200 }, (_, i) => `é${i}`)],
];

function eagerAndLazy(features: readonly Feature[], found = true): [DatasetResult, DatasetResult, () => number] {
  let renders = 0;
  const again = (): readonly Feature[] => {
    renders++;
    return features.map((f) => ({ ...f }));
  };
  return [
    DatasetResult.build('d', '1', found, features, null),
    DatasetResult.lazy('d', '1', found, features, null, again, 64),
    () => renders,
  ];
}

describe('lazy protobuf rendering', () => {
  it('gives the eager bytes for every edge value, within the bound it was charged for', () => {
    const one = EDGES.map(([type, value], i) => [{ name: `f${i}`, type, value, status: 'PRESENT' }] as Feature[]);
    const all: Feature[] = EDGES.map(([type, value], i) => ({ name: i % 2 ? 'n' : `名前${i}`, type, value, status: i % 3 ? 'PRESENT' : 'STALE' }));
    const nulls: Feature[] = (['NULL_VALUE', 'NOT_FOUND', 'DEFAULTED'] as const).map((status, i) => ({ name: `z${i}`, type: 'int64', value: status === 'DEFAULTED' ? '-5' : null, status }));
    for (const features of [...one, all, nulls]) {
      const [eager, lazy, renders] = eagerAndLazy(features);
      const charged = lazy.approxBytes();
      expect(lazy.json).toBe(eager.json);
      expect(lazy.jsonBytes).toBe(eager.jsonBytes);
      expect(renders()).toBe(0);
      expect(lazy.proto).toBe(eager.proto);
      expect(lazy.proto).toBe(eager.proto);
      expect(renders()).toBe(1); // rendered once, then kept
      expect(eager.proto.length).toBeLessThanOrEqual(protoBound(eager.jsonBytes));
      // Charged before rendering for at least what it holds after.
      expect(charged).toBeGreaterThanOrEqual(eager.approxBytes());
      expect(lazy.approxBytes()).toBe(charged);
    }
  });

  it('an empty not-found result is bounded too', () => {
    const [eager, lazy] = eagerAndLazy([], false);
    expect(lazy.proto).toBe(eager.proto);
    expect(eager.proto.length).toBeLessThanOrEqual(protoBound(eager.jsonBytes));
  });
});

describe('lazy rendering through both transports', () => {
  let dir: string;
  let config: MaltConfig;
  const apps: ServingApp[] = [];
  const clients: ServingClient[] = [];

  beforeAll(async () => {
    dir = tmpDir();
    writePlayers(path.join(dir, 'p.parquet'), [
      { id: 'a', ltv: 1e308, level: -1n, country: 'Åland ü', is_payer: true, last_login: new Date('9999-12-31T23:59:59.999Z'), tags: ['x', LONG] },
      { id: 'b', ltv: null, level: null, country: null, is_payer: null, last_login: null, tags: null },
      { id: 'c', ltv: -0.5, level: 9007199254740993n, country: '', is_payer: false, last_login: new Date(-1500), tags: [] },
    ]);
    config = makeConfig({ datasets: [featuresDataset('players', path.join(dir, 'p.parquet'), { defaults: { country: 'unknown' } })] });
    await load(config, 'players');
    for (let i = 0; i < 3; i++) {
      const app = await serve(config);
      apps.push(app);
      clients.push(servingClient(`127.0.0.1:${app.grpcPort}`));
    }
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(apps.map((a) => a.close()));
  });

  const http = async (app: ServingApp, id: string): Promise<string> => (await fetch(`http://127.0.0.1:${app.httpPort}/v1/entities/${id}`)).text();
  const grpc = (client: ServingClient, id: string): Promise<unknown> => call(client, 'Get', { entity_id: id, datasets: [] });

  it('answers the same bytes whichever transport reads an entity first', async () => {
    const ids = ['a', 'b', 'c', 'unknown-id'];
    const [httpFirst, grpcFirst, batchFirst] = apps as [ServingApp, ServingApp, ServingApp];
    const [c0, c1] = clients as [ServingClient, ServingClient];
    for (const id of ids) {
      // App 0: HTTP misses (JSON now, protobuf later); app 1: gRPC misses first.
      const h0 = await http(httpFirst, id);
      const g1 = await grpc(c1, id);
      const g0 = await grpc(c0, id);
      const h1 = await http(grpcFirst, id);
      expect(h1).toBe(h0);
      expect(g0).toEqual(g1);
      // What gRPC sent is the cached protobuf: identical bytes in both apps, and the same values as the JSON.
      const [r0] = await httpFirst.lookup.get([id], []);
      const [r1] = await grpcFirst.lookup.get([id], []);
      expect(r0!.datasets[0]!.proto).toBe(r1!.datasets[0]!.proto);
      expect(r0!.datasets[0]!.json).toBe(r1!.datasets[0]!.json);
      expect(JSON.parse(h0).datasets[0].found).toBe((g0 as { datasets: { found: boolean }[] }).datasets[0]!.found);
    }
    // A batch miss renders JSON for all; the protobuf of each later equals the single reads'.
    const batch = await batchFirst.lookup.get(ids, []);
    const single = await httpFirst.lookup.get(ids, []);
    expect(batch.map((e) => e.datasets[0]!.proto)).toEqual(single.map((e) => e.datasets[0]!.proto));
  });
});
