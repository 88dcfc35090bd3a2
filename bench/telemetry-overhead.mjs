#!/usr/bin/env node
/**
 * What recording metrics costs the hot path: server CPU seconds per 10 000 requests of two
 * builds of malt (before/after a change, e.g. the telemetry commit and its parent) on the same
 * data, in interleaved rounds (A B A B …), for HTTP GET /v1/entities/:id cache hits (autocannon)
 * and gRPC Get cache hits (grpc-js client, 64 calls in flight). CPU time of the server process
 * (/proc/<pid>/stat) is counted, not throughput, so other load on the machine matters less.
 *
 *   node bench/telemetry-overhead.mjs --a <dist dir> --b <dist dir> [--requests 40000] [--rounds 5] [--workloads http,grpc]
 *
 * Each dist must sit beside its proto/ and lua/ (a git worktree's dist/). Data: a 20 000-player
 * sample lake under bench/.data, loaded with build b's loader into a redis-server of its own.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import * as grpc from '@grpc/grpc-js';
import { cpuSeconds, foreignLoad, installCleanup, stopAll } from './lib/processes.mjs';
import { startRedis } from './lib/redis.mjs';
import { startServer } from './lib/servers.mjs';

const { values: a } = parseArgs({ options: {
  a: { type: 'string' }, b: { type: 'string' }, requests: { type: 'string', default: '40000' }, rounds: { type: 'string', default: '5' },
  players: { type: 'string', default: '20000' }, workloads: { type: 'string', default: 'http,grpc' }, 'data-dir': { type: 'string', default: 'bench/.data' },
} });
if (!a.a || !a.b) throw new Error('--a <dist> and --b <dist> are required');
const REQUESTS = Number(a.requests);
const ROUNDS = Number(a.rounds);
const log = (m) => console.error(m);
installCleanup(() => stopAll());

const distB = pathToFileURL(`${path.resolve(a.b)}/`).href;
const { sampleConfigDocument, samplePlayerId, writeSampleLake } = await import(new URL('sample/sample-lake.js', distB).href);
const { loadConfig } = await import(new URL('config.js', distB).href);
const { loadDataset } = await import(new URL('loaders/load-dataset.js', distB).href);
const { Redis } = await import('ioredis');
const { existsSync, mkdirSync, writeFileSync } = await import('node:fs');

const lake = path.resolve(a['data-dir'], `overhead-lake-${a.players}`);
if (!existsSync(path.join(lake, '.complete'))) {
  mkdirSync(lake, { recursive: true });
  writeSampleLake({ dir: lake, players: Number(a.players) });
  writeFileSync(path.join(lake, '.complete'), 'ok\n');
}
const redis = await startRedis();
const doc = {
  redis: { url: redis.url, key_prefix: 'overhead' },
  serving: { host: '127.0.0.1', http_port: 0, grpc_port: 0 },
  datasets: sampleConfigDocument(lake).datasets.filter((d) => d.name === 'player_features'),
};
const config = loadConfig({ document: doc, env: {}, baseDir: process.cwd() });
const client = new Redis(redis.url);
await loadDataset(client, config, config.datasets[0], { force: true });
client.disconnect();

const ids = Array.from({ length: 1000 }, (_, i) => samplePlayerId(i * 7 + 1));
const variants = [{ key: 'a', dist: a.a }, { key: 'b', dist: a.b }];
const servers = {};
for (const v of variants) servers[v.key] = await startServer('malt', [JSON.stringify(doc)], { label: `malt ${v.key}`, env: { MALT_BENCH_DIST: path.resolve(v.dist) } });

async function httpRun(s) {
  let i = 0;
  await new Promise((resolve, reject) => {
    const inst = autocannon({
      url: `http://127.0.0.1:${s.httpPort}`, connections: 32, pipelining: 1, amount: REQUESTS,
      requests: [{ setupRequest: (req) => ({ ...req, path: `/v1/entities/${ids[i++ % ids.length]}` }) }],
    }, (err, res) => (err ? reject(err) : res.non2xx > 0 ? reject(new Error(`${res.non2xx} non-2xx`)) : resolve(res)));
    inst.on('error', reject);
  });
}

const proto = await import(new URL('serving/grpc-server.js', distB).href);
const Serving = grpc.loadPackageDefinition(proto.loadServingPackage()).malt.v1.Serving;
async function grpcRun(s) {
  const c = new Serving(`127.0.0.1:${s.grpcPort}`, grpc.credentials.createInsecure());
  let sent = 0;
  const lane = () => new Promise((resolve, reject) => {
    const next = () => {
      if (sent >= REQUESTS) return resolve();
      const id = ids[sent++ % ids.length];
      c.Get({ entity_id: id, datasets: [] }, (err) => (err ? reject(err) : next()));
    };
    next();
  });
  await Promise.all(Array.from({ length: 64 }, lane));
  c.close();
}

const results = { http: { a: [], b: [] }, grpc: { a: [], b: [] } };
for (const [name, run] of [['http', httpRun], ['grpc', grpcRun]].filter(([n]) => a.workloads.split(',').includes(n))) {
  for (const v of variants) await run(servers[v.key]); // warm-up: JIT and a full cache
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of (r % 2 === 0 ? variants : [...variants].reverse())) {
      const s = servers[v.key];
      const before = cpuSeconds(s.pid);
      await run(s);
      const cpu = cpuSeconds(s.pid) - before;
      results[name][v.key].push((cpu / REQUESTS) * 10_000);
      log(`${name} round ${r + 1} ${v.key}: ${((cpu / REQUESTS) * 10_000).toFixed(3)} CPU-s / 10k`);
    }
  }
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const out = {};
for (const [name, r] of Object.entries(results).filter(([, r]) => r.a.length > 0)) {
  out[name] = {
    a: { median: median(r.a), min: Math.min(...r.a), max: Math.max(...r.a) },
    b: { median: median(r.b), min: Math.min(...r.b), max: Math.max(...r.b) },
    ratio_b_over_a: median(r.b) / median(r.a),
    per_round_ratios: r.a.map((x, i) => r.b[i] / x),
  };
}
out.foreign_load = await foreignLoad(Object.values(servers).map((s) => s.pid));
console.log(JSON.stringify(out, null, 2));
await stopAll();
await redis.stop?.();
process.exit(0);
