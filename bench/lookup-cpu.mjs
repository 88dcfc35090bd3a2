#!/usr/bin/env node
// CPU time per Lookup.get call, in-process (no transport), for A/B comparisons of the read path
// between builds: cache hits (1 id; a batch of 100) and, with the cache off, Redis reads.
// Each run loads a small table into the given Redis, serves it from <tree>/dist and measures
// process.cpuUsage() over many calls, so run builds alternately and compare medians.
//   node bench/lookup-cpu.mjs <tree with dist/> <redis url> <iterations> hit|miss
// (BENCHMARKS.md, "Degraded modes": how the two trees were built and interleaved.)
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import os from 'node:os';

const [tree, url, itersArg, mode = 'hit'] = process.argv.slice(2);
if (!tree || !url) {
  console.error('usage: node bench/lookup-cpu.mjs <tree with dist/> <redis url> <iterations> hit|miss');
  process.exit(2);
}
const iters = Number(itersArg ?? 100000);
const imp = (p) => import(path.resolve(tree, 'dist', p));
const { loadConfig } = await imp('config.js');
const { startServing } = await imp('app.js');
const { writeParquet } = await imp('sample/write-parquet.js');
const { loadDataset } = await imp('loaders/load-dataset.js');
const { Redis } = await import('ioredis');

const lake = path.join(os.tmpdir(), `malt-lookup-cpu-${process.pid}`);
mkdirSync(lake, { recursive: true });
const n = 1000;
const ids = Array.from({ length: n }, (_, i) => `p${i}`);
writeParquet(path.join(lake, 'part-0.parquet'), [
  { name: 'player_id', type: 'string', data: ids },
  { name: 'ltv', type: 'double', data: ids.map((_, i) => i * 1.5) },
  { name: 'level', type: 'int64', data: ids.map((_, i) => i) },
  { name: 'country', type: 'string', data: ids.map((_, i) => (i % 2 ? 'SE' : 'DE')) },
  { name: 'is_payer', type: 'bool', data: ids.map((_, i) => i % 3 === 0) },
  { name: 'tags', type: 'string_list', data: ids.map((_, i) => [`t${i % 7}`]) },
]);
const config = loadConfig({ document: {
  redis: { url, key_prefix: `lcpu${process.pid}` }, serving: { http_port: 0, grpc_port: 0 }, auth: 'none',
  cache: { max_bytes: mode === 'miss' ? 0 : 64 * 1024 * 1024 },
  datasets: [{ name: 'players', source: { format: 'parquet', uri: lake }, key: 'player_id' }],
}, env: {}, baseDir: os.tmpdir() });
const redis = new Redis(url);
await loadDataset(redis, config, config.datasets[0], { force: true });
const app = await startServing(config);
const batch = ids.slice(0, 100);
await app.lookup.get(batch, []);
for (let i = 0; i < 20000; i++) await app.lookup.get(['p1'], []); // JIT warm-up

async function cpuNsPerCall(fn, calls) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn();
  const d = process.cpuUsage(t0);
  return Math.round(((d.user + d.system) * 1000) / calls);
}
const single = await cpuNsPerCall(() => app.lookup.get(['p1'], []), mode === 'miss' ? Math.ceil(iters / 15) : iters);
const batch100 = await cpuNsPerCall(() => app.lookup.get(batch, []), Math.ceil(iters / (mode === 'miss' ? 300 : 20)));
console.log(JSON.stringify({ tree: path.basename(path.resolve(tree)), mode, single_ns: single, batch100_ns: batch100 }));
await app.close();
redis.disconnect();
process.exit(0);
