/**
 * malt on a real Redis Cluster (3 masters, 1 replica each, started on 127.0.0.1): serving over
 * HTTP and gRPC answers exactly what a standalone Redis answers, rollback, reclaim on every
 * node, the load lock and sync, and a failover and a slot migration during continuous reads and
 * a load (docs/redis-cluster.md).
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaltConfig } from '../src/config.js';
import { KeyLayout } from '../src/keys.js';
import { loadDataset, type LoadReport } from '../src/loaders/load-dataset.js';
import { openRedis } from '../src/redis/redis-handle.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { SnapshotStore } from '../src/store/snapshot-store.js';
import { startSync } from '../src/sync/sync-scheduler.js';
import { appsClosedAfterAll, featuresDataset, makeConfig, redisUrl, serve, tmpDir, writeGeneration, writePlayers, type PlayerRow } from './support/fixtures.js';
import { startTestCluster, type TestCluster } from './support/redis-cluster.js';

let cluster: TestCluster;
const apps = appsClosedAfterAll();
const clients: ServingClient[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ masters: 3, replicas: 1 });
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.stop();
});

function clusterConfig(datasets: Record<string, unknown>[], extra: Record<string, unknown> = {}): MaltConfig {
  return makeConfig({ ...extra, redis: { url: null, cluster: cluster.seeds }, datasets });
}

async function loadOn(config: MaltConfig, name: string, force = false): Promise<LoadReport> {
  const handle = await openRedis(config);
  try {
    return await loadDataset(handle.client, config, config.datasets.find((d) => d.name === name) as MaltConfig['datasets'][number], { force });
  } finally {
    await handle.close();
  }
}

/** Every key matching `pattern` on every master, by SCAN on each node. */
async function keysOnMasters(pattern: string): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const port of await cluster.masters()) {
    const node = new Redis({ host: '127.0.0.1', port });
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    node.disconnect();
    out.set(port, found);
  }
  return out;
}

const player = (i: number, gen = 1): PlayerRow => ({
  id: `p${i}`, ltv: i * 1.5 * gen, level: BigInt(i * gen), country: ['SE', 'US', 'JP', ''][i % 4] as string,
  is_payer: i % 3 === 0, last_login: i % 5 === 0 ? null : new Date(1_700_000_000_000 + i * 1000), tags: i % 2 ? ['a', `t${i}`] : null,
});

describe('serving from a Redis Cluster', () => {
  it('answers a batch of 100 ids across slots over HTTP and gRPC exactly as a standalone Redis does', async () => {
    const file = path.join(tmpDir(), 'players.parquet');
    // 3,000 rows = 30 bucket keys: every master gets some unless the slots are very unlucky (p < 1e-4).
    writePlayers(file, Array.from({ length: 3000 }, (_, i) => player(i)));
    const onCluster = clusterConfig([featuresDataset('players', file)]);
    const standalone = makeConfig({ datasets: [featuresDataset('players', file)] }, { url: redisUrl() });
    expect((await loadOn(onCluster, 'players')).status).toBe('published');
    expect((await loadOn(standalone, 'players')).status).toBe('published');
    // The data keys are spread over every master.
    const spread = await keysOnMasters(`${onCluster.redis.keyPrefix}:d:players:*`);
    expect([...spread.values()].every((keys) => keys.length > 0)).toBe(true);

    const [a, b] = [await serve(onCluster), await serve(standalone)];
    apps.push(a, b);
    const ids = Array.from({ length: 100 }, (_, i) => (i % 10 === 9 ? `nobody${i}` : `p${i * 7}`));
    const viaCluster = await a.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids } });
    const viaStandalone = await b.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids } });
    expect(viaCluster.statusCode).toBe(200);
    expect(viaCluster.json().results).toHaveLength(100);
    expect(viaCluster.json().results[0].datasets[0].found).toBe(true);
    expect(viaCluster.json()).toEqual(viaStandalone.json());
    const one = await a.http.inject({ url: '/v1/entities/p14' });
    expect(one.json()).toEqual((await b.http.inject({ url: '/v1/entities/p14' })).json());

    const [ga, gb] = [servingClient(`127.0.0.1:${a.grpcPort}`), servingClient(`127.0.0.1:${b.grpcPort}`)];
    clients.push(ga, gb);
    const ra = await call<{ results: unknown[] }>(ga, 'BatchGet', { entity_ids: ids, datasets: ['players'] });
    expect(ra.results).toHaveLength(100);
    expect(ra).toEqual(await call(gb, 'BatchGet', { entity_ids: ids, datasets: ['players'] }));
  }, 60_000);

  it('rolls back, and reclaim deletes every data key of the retired versions on every node', async () => {
    const file = path.join(tmpDir(), 'rb.parquet');
    const config = clusterConfig([featuresDataset('rb', file, { keep_versions: 5 })], { serving: { version_poll_ms: 60_000 } });
    for (const gen of [1, 2, 3]) {
      writePlayers(file, Array.from({ length: 600 }, (_, i) => player(i, gen)));
      expect((await loadOn(config, 'rb')).version).toBe(gen);
    }
    const app = await serve(config);
    apps.push(app);
    const ltv = async (): Promise<number> => (await app.http.inject({ url: '/v1/entities/p10' })).json().datasets[0].features.ltv.value;
    expect(await ltv()).toBe(45);
    const res = await app.http.inject({ method: 'POST', url: '/v1/datasets/rb/rollback' });
    expect(res.json()).toEqual({ dataset: 'rb', from_version: '3', to_version: '2' });
    expect(await ltv()).toBe(30);

    const prefix = config.redis.keyPrefix;
    expect([...(await keysOnMasters(`${prefix}:d:rb:1:*`)).values()].flat().length).toBeGreaterThan(0);
    const handle = await openRedis(config);
    try {
      const store = new SnapshotStore(handle.client, new KeyLayout(prefix));
      // Version 1 is older than the served one and past keep_versions 1: it goes; 3 (rolled back
      // from, kept for a roll forward) and 2 (served) stay.
      expect(await store.reclaim('rb', 1, { includeUnfinished: false, graceMs: 0 })).toEqual([1]);
    } finally {
      await handle.close();
    }
    expect([...(await keysOnMasters(`${prefix}:d:rb:1:*`)).values()].flat()).toEqual([]);
    for (const v of [2, 3]) {
      const kept = await keysOnMasters(`${prefix}:d:rb:${v}:*`);
      expect([...kept.values()].every((keys) => keys.length > 0)).toBe(true);
    }
    expect(await ltv()).toBe(30);
  }, 60_000);

  it('honours the load lock on the cluster, in `malt load` and in sync', async () => {
    const file = path.join(tmpDir(), 'lk.parquet');
    writePlayers(file, [player(1)]);
    const config = clusterConfig([featuresDataset('lk', file)]);
    const handle = await openRedis(config);
    try {
      const store = new SnapshotStore(handle.client, new KeyLayout(config.redis.keyPrefix));
      const token = await store.acquireLock('lk', 20_000);
      await expect(loadOn(config, 'lk')).rejects.toMatchObject({ code: 'LOAD_IN_PROGRESS' });
      const busy = await startSync({ redis: handle.client, config, once: true }).finished;
      expect(busy.map((o) => o.kind)).toEqual(['busy']);
      await store.releaseLock('lk', token);
      const done = await startSync({ redis: handle.client, config, once: true }).finished;
      expect(done.map((o) => o.kind)).toEqual(['published']);
    } finally {
      await handle.close();
    }
  }, 60_000);
});

describe('resharding and failover', () => {
  it('readers see no errors and never a mixed version while a load, a failover and a slot migration run', async () => {
    const file = path.join(tmpDir(), 'gen.parquet');
    const players = 3000;
    const dataset = { name: 'gen', kind: 'features', source: { format: 'parquet', uri: file }, key: 'player_id', columns: { gen: 'int64', label: 'string' }, keep_versions: 5 };
    // Only the pub/sub notice can tell the server of a publish in time: polling is off in effect.
    // request_timeout_ms above the failover and the batch retry window (docs/redis-cluster.md).
    const config = clusterConfig([dataset], { serving: { version_poll_ms: 60_000, request_timeout_ms: 6000 } });
    writeGeneration(file, players, 1);
    await loadOn(config, 'gen');
    const app = await serve(config);
    apps.push(app);

    const seen = new Set<number>();
    const failures: string[] = [];
    let reads = 0;
    let stop = false;
    const reader = async (): Promise<void> => {
      while (!stop) {
        const ids = Array.from({ length: 100 }, () => `g${Math.floor(Math.random() * players)}`);
        const res = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids } });
        reads++;
        if (res.statusCode !== 200) { failures.push(`${new Date().toISOString()} ${res.statusCode} ${res.body}`); continue; }
        const results = res.json().results as { entity_id: string; datasets: { version: string; found: boolean; features: { gen: { value: number }; label: { value: string } } }[] }[];
        const gens = new Set(results.map((r) => r.datasets[0]?.features.gen.value));
        const versions = new Set(results.map((r) => r.datasets[0]?.version));
        if (gens.size !== 1 || versions.size !== 1 || results.some((r) => !r.datasets[0]?.found || r.datasets[0].features.label.value !== `${r.entity_id}@${r.datasets[0].features.gen.value}`)) {
          failures.push(`mixed: gens ${[...gens].join(',')} versions ${[...versions].join(',')}`);
        }
        for (const g of gens) seen.add(Number(g));
      }
    };
    const readers = [reader(), reader()];
    try {

    // A load while a replica takes over its master.
    writeGeneration(file, players, 2);
    const replica = await replicaPort();
    const [report] = await Promise.all([loadOn(config, 'gen'), failover(replica)]);
    expect(report.status).toBe('published');
    await until(() => seen.has(2));

    // A load while slots move between masters (MIGRATING/IMPORTING, keys moved by MIGRATE: ASK).
    writeGeneration(file, players, 3);
    const [report3] = await Promise.all([loadOn(config, 'gen'), reshard(400)]);
    expect(report3.status).toBe('published');
    await until(() => seen.has(3));
    await reshard(400);
    const before = reads;
    await until(() => reads > before + 20);
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual([1, 2, 3]);
  }, 120_000);
});

async function replicaPort(): Promise<number> {
  const lines = (await cluster.cli(cluster.nodes[0]?.port as number, 'cluster', 'nodes')).split('\n');
  const line = lines.find((l) => / slave /.test(l) && !/fail/.test(l));
  if (!line) throw new Error('no replica in the cluster');
  return Number(/:(\d+)@/.exec(line)?.[1]);
}

async function failover(port: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 150)); // the load has begun writing
  expect((await cluster.cli(port, 'cluster', 'failover')).trim()).toBe('OK');
  await until(async () => (await cluster.cli(port, 'role')).startsWith('master'), 20_000);
  await cluster.waitHealthy();
}

/** Moves `slots` slots from one master to another with redis-cli (which MIGRATEs their keys). */
async function reshard(slots: number): Promise<void> {
  const id = async (port: number): Promise<string> => (await cluster.cli(port, 'cluster', 'myid')).trim();
  // After a failover the nodes' views of who is master converge within a few gossip rounds;
  // redis-cli refuses ("not known or not a master") until they have, so retry for a while.
  for (let attempt = 1; ; attempt++) {
    const masters = await cluster.masters();
    const [from, to] = [await id(masters[0] as number), await id(masters[1] as number)];
    try {
      await cluster.cli(masters[0] as number, '--cluster', 'reshard', `127.0.0.1:${masters[0]}`, '--cluster-from', from, '--cluster-to', to,
        '--cluster-slots', String(slots), '--cluster-yes', '--cluster-pipeline', '10');
      break;
    } catch (err) {
      if (attempt >= 40 || !/not known or not a master/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  await cluster.waitHealthy();
}

async function until(ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
