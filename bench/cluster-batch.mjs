#!/usr/bin/env node
/**
 * Batch-of-100 latency on a Redis Cluster vs a standalone Redis, in the same run.
 *
 *   npm run build && node bench/cluster-batch.mjs [--players 100000] [--requests 3000] [--masters 3]
 *
 * Starts one standalone redis-server and a cluster of `--masters` masters (no replicas) on free
 * 127.0.0.1 ports, loads the same features table (6 columns) into each, starts a malt server on
 * each and sends the same sequence of POST /v1/entities/batch requests (100 random ids, 10 %
 * unknown) one at a time through fastify's inject (no sockets: the difference is the store).
 * The cache is off so every request reads Redis. Prints p50/p90/p99/mean per target and the
 * cluster/standalone ratios. Stops every process it started by PID.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { startServing } from '../dist/app.js';
import { loadConfig } from '../dist/config.js';
import { loadDataset } from '../dist/loaders/load-dataset.js';
import { openRedis } from '../dist/redis/redis-handle.js';
import { writeParquet } from '../dist/sample/write-parquet.js';

const run = promisify(execFile);
const { values: args } = parseArgs({ options: { players: { type: 'string', default: '100000' }, requests: { type: 'string', default: '3000' }, masters: { type: 'string', default: '3' } } });
const PLAYERS = Number(args.players);
const REQUESTS = Number(args.requests);
const MASTERS = Number(args.masters);

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const children = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'malt-bench-cluster-'));

async function redisServer(extra) {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `d-${port}.rdb`, ...extra(port)], { stdio: 'ignore' });
  children.push(child);
  for (let i = 0; ; i++) {
    const out = await run('redis-cli', ['-p', String(port), 'ping']).then((r) => r.stdout, () => '');
    if (out.startsWith('PONG')) return port;
    if (i > 300) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

async function startCluster() {
  const ports = [];
  for (let i = 0; i < MASTERS; i++) ports.push(await redisServer((p) => ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${p}.conf`)]));
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
  for (;;) {
    const infos = await Promise.all(ports.map((p) => run('redis-cli', ['-p', String(p), 'cluster', 'info']).then((r) => r.stdout)));
    if (infos.every((s) => s.includes('cluster_state:ok'))) return ports.map((p) => `127.0.0.1:${p}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function writeLake(file) {
  const ids = Array.from({ length: PLAYERS }, (_, i) => `p${i}`);
  writeParquet(file, [
    { name: 'player_id', type: 'string', data: ids, nullable: false },
    { name: 'ltv', type: 'double', data: ids.map((_, i) => i * 0.5) },
    { name: 'level', type: 'int64', data: ids.map((_, i) => i % 90) },
    { name: 'country', type: 'string', data: ids.map((_, i) => ['SE', 'US', 'JP', 'BR'][i % 4]) },
    { name: 'is_payer', type: 'bool', data: ids.map((_, i) => i % 7 === 0) },
    { name: 'tags', type: 'string_list', data: ids.map((_, i) => (i % 2 ? ['a', 'b'] : [])) },
  ], { rowGroupSize: 10_000 });
}

async function target(name, redis, file) {
  const config = loadConfig({
    env: {}, baseDir: dir,
    document: {
      redis: { ...redis, key_prefix: 'bench' }, cache: { max_bytes: 0 }, auth: 'none', serving: { http_port: 0, grpc_port: 0, request_timeout_ms: 5000 },
      datasets: [{ name: 'players', kind: 'features', key: 'player_id', source: { format: 'parquet', uri: file }, columns: { ltv: 'double', level: 'int64', country: 'string', is_payer: 'bool', tags: 'string_list' } }],
    },
  });
  const handle = await openRedis(config);
  try { await loadDataset(handle.client, config, config.datasets[0], { force: true }); } finally { await handle.close(); }
  return { name, app: await startServing(config, { drainMs: 200 }) };
}

function percentile(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]; }

async function measure(t, bodies) {
  for (let i = 0; i < 200; i++) await t.app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: bodies[i % bodies.length] });
  const ms = [];
  for (const payload of bodies) {
    const s = performance.now();
    const res = await t.app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload });
    ms.push(performance.now() - s);
    if (res.statusCode !== 200) throw new Error(`${t.name}: ${res.statusCode} ${res.body}`);
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p90: percentile(ms, 90), p99: percentile(ms, 99), mean: ms.reduce((a, b) => a + b, 0) / ms.length };
}

try {
  const file = path.join(dir, 'players.parquet');
  writeLake(file);
  const standalonePort = await redisServer(() => []);
  const seeds = await startCluster();
  const targets = [await target('standalone', { url: `redis://127.0.0.1:${standalonePort}` }, file), await target(`cluster (${MASTERS} masters)`, { cluster: seeds }, file)];
  const bodies = Array.from({ length: REQUESTS }, () => ({ entity_ids: Array.from({ length: 100 }, () => (Math.random() < 0.1 ? `nobody${Math.random()}` : `p${Math.floor(Math.random() * PLAYERS)}`)) }));
  // Interleaved rounds so neither target gets the quieter half of the run.
  const results = new Map(targets.map((t) => [t.name, []]));
  for (let round = 0; round < 3; round++) for (const t of targets) results.get(t.name).push(await measure(t, bodies.slice(round * (REQUESTS / 3), (round + 1) * (REQUESTS / 3))));
  const summary = targets.map((t) => {
    const rs = results.get(t.name);
    const med = (k) => rs.map((r) => r[k]).sort((a, b) => a - b)[1];
    return { target: t.name, p50: med('p50'), p90: med('p90'), p99: med('p99'), mean: med('mean') };
  });
  console.log(`batch of 100 ids, ${PLAYERS} players, ${REQUESTS} requests, sequential, cache off (median of 3 interleaved rounds, ms)`);
  console.log('| target | p50 | p90 | p99 | mean |\n|---|---|---|---|---|');
  for (const r of summary) console.log(`| ${r.target} | ${r.p50.toFixed(3)} | ${r.p90.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.mean.toFixed(3)} |`);
  const [s, c] = summary;
  console.log(`| cluster / standalone | ${(c.p50 / s.p50).toFixed(2)}× | ${(c.p90 / s.p90).toFixed(2)}× | ${(c.p99 / s.p99).toFixed(2)}× | ${(c.mean / s.mean).toFixed(2)}× |`);
  for (const t of targets) await t.app.close();
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
