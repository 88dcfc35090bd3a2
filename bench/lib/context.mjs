/**
 * The shared state of one bench run, built lazily so a single workload starts only what it
 * needs: the "hit" data (the default lake, malt's default cache) and the "big" data (the
 * Redis-heavy lake, a small cache), each loaded once with its Redis memory measured; the request
 * lists; the servers (lib/servers.mjs); and the payloads the baselines replay (lib/payloads.mjs).
 */
import { DEFAULTS } from '../../dist/config.js';
import { DATASET, loadIntoRedis, maltConfig, maltDocument, sampleLake, uniformIds, zipfBatches, zipfIds } from './dataset.mjs';
import { writeFeastMinimal } from './feast-layout.mjs';
import { recordGrpcPayloads, recordHttpPayloads } from './payloads.mjs';
import { settledUsedMemory } from './redis.mjs';
import { startServer } from './servers.mjs';

/** Runs `fn` once; later calls get the same promise. */
const once = (fn) => {
  let p = null;
  return () => (p ??= fn());
};

const columnsOf = (doc) => Object.entries(doc.datasets[0].columns).map(([name, type]) => ({ name, type }));

export class BenchContext {
  constructor({ opts, redis, tmpDir, tools, log }) {
    Object.assign(this, { opts, redis, tmpDir, tools, log });
    this.setup = {};
    this.servers = {};
    /** Bounds on waiting for a quiet machine and on repeating disturbed runs (lib/generators.mjs). */
    this.noiseBudget = { waitS: 180, retries: 12 };
    this.hitData = once(() => this.loadData('hit', opts.players, 'bhit', DEFAULTS.cacheMaxBytes, 'f1:'));
    this.bigData = once(() => this.loadData('big', opts.bigPlayers, 'bbig', opts.smallCacheBytes, 'f2:'));
    this.hitIds = once(() => zipfIds(opts.players, opts.listLength, { s: opts.zipfS }));
    this.bigIds = once(() => uniformIds(opts.bigPlayers, opts.listLength * 4));
    this.hotId = once(() => mostFrequent(this.hitIds()));
    this.warmRedis = once(() => this.warmUp());
    this.httpPayloads = once(async () => recordHttpPayloads(this, await this.maltHit()));
    this.grpcPayloads = once(async () => recordGrpcPayloads(this, await this.maltHit()));
  }

  /** `count` fixed batches of `size` distinct Zipf players (the same in every run). */
  batches(size) {
    return zipfBatches(this.opts.players, size, size >= 100 ? 50 : 200, 13 + size);
  }

  /**
   * One small throwaway load of each layout before anything is measured, so one-time costs in
   * redis-server (script cache, client buffers, dict growth) do not land in the first delta.
   */
  async warmUp() {
    const lakeDir = sampleLake(this.opts.dataDir, 500, this.log);
    const doc = maltDocument(lakeDir, { redisUrl: this.redis.url, keyPrefix: 'bwarm', cacheMaxBytes: 0 });
    await loadIntoRedis(maltConfig(doc));
    await writeFeastMinimal(this.redis.client, doc.datasets[0].source.uri, doc.datasets[0].key, columnsOf(doc), 'f0:');
  }

  /** Loads a lake with malt's loader, then writes its Feast-style copy; measures both in Redis. */
  async loadData(name, players, keyPrefix, cacheMaxBytes, feastPrefix) {
    const { redis, log } = this;
    await this.warmRedis();
    const lakeDir = sampleLake(this.opts.dataDir, players, log);
    const doc = maltDocument(lakeDir, { redisUrl: redis.url, keyPrefix, cacheMaxBytes, requestTimeoutMs: this.opts.quick ? 5000 : undefined });
    log(`loading ${players.toLocaleString('en-US')} players into Redis with malt's loader (prefix ${keyPrefix})`);
    const m0 = await settledUsedMemory(redis);
    const report = await loadIntoRedis(maltConfig(doc));
    const m1 = await settledUsedMemory(redis);
    log(`  loaded ${report.rows.toLocaleString('en-US')} rows in ${(report.durationMs / 1000).toFixed(1)} s; writing the Feast-style copy (${feastPrefix}<id>)`);
    const t0 = performance.now();
    const ds = doc.datasets[0];
    const feast = await writeFeastMinimal(redis.client, ds.source.uri, ds.key, columnsOf(doc), feastPrefix);
    const m2 = await settledUsedMemory(redis);
    this.setup[name] = {
      players, lakeDir, keyPrefix, cacheMaxBytes, rows: report.rows, version: report.version, loadSeconds: report.durationMs / 1000,
      loadRowsPerSecond: Math.round(report.rows / (report.durationMs / 1000)), feastWriteSeconds: (performance.now() - t0) / 1000,
      memory: { maltBytes: m1 - m0, feastMinimalBytes: m2 - m1, feastEntities: feast.entities },
    };
    return { ...this.setup[name], doc, columns: columnsOf(doc), feastPrefix, tableDir: ds.source.uri, keyColumn: ds.key };
  }

  /** Starts a server process once under `key` (with --cpu-prof when --profile) and logs it. */
  server(key, kind, args, label) {
    this.servers[key] ??= (async () => {
      const nodeFlags = this.opts.profile ? ['--cpu-prof', '--cpu-prof-dir', `${this.opts.profileDir}/${key}`] : [];
      const s = await startServer(kind, await args(), { label, nodeFlags });
      this.log(`  started ${s.label} (pid ${s.pid}${s.pinnedCore !== null ? `, core ${s.pinnedCore}` : ''})`);
      return s;
    })();
    return this.servers[key];
  }

  maltHit() {
    return this.server('malt-hit', 'malt', async () => [JSON.stringify((await this.hitData()).doc)], 'malt');
  }

  maltBig() {
    return this.server('malt-big', 'malt', async () => [JSON.stringify((await this.bigData()).doc)], 'malt (small cache)');
  }

  /** The naive fastify+ioredis baseline over the Feast-style copy of the hit or big data. */
  naive(which) {
    return this.server(`naive-${which}`, 'naive', async () => {
      const d = which === 'big' ? await this.bigData() : await this.hitData();
      return [JSON.stringify({ redisUrl: this.redis.url, feastPrefix: d.feastPrefix, dataset: DATASET, version: String(d.version), columns: d.columns, defaults: d.doc.datasets[0].defaults ?? {} })];
    }, 'naive fastify+ioredis');
  }

  nodeHttp() {
    return this.server('node-http', 'node-http', async () => [await this.httpPayloads()], 'bare node:http');
  }

  fastify() {
    return this.server('fastify', 'fastify', async () => [await this.httpPayloads()], 'bare fastify');
  }

  grpcJs() {
    return this.server('grpc-js', 'grpc-js', async () => [await this.grpcPayloads(), 'object'], 'bare grpc-js');
  }

  grpcJsBytes() {
    return this.server('grpc-js-bytes', 'grpc-js', async () => [await this.grpcPayloads(), 'bytes'], 'bare grpc-js (pre-encoded)');
  }

  async stopServers() {
    const started = await Promise.allSettled(Object.values(this.servers));
    await Promise.all(started.filter((s) => s.status === 'fulfilled').map((s) => s.value.stop()));
  }
}

function mostFrequent(ids) {
  const counts = new Map();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
}
