#!/usr/bin/env node
/**
 * Interleaved A/B of malt builds by server CPU per request (separate from the suite):
 *
 *   node bench/ab-cpu.mjs <batch100|batch10|single|redis> <seconds> <rounds> label=<repo root> ... [--cpuprof <dir>]
 *
 * Each root is a checkout with `npm run build` done and node_modules present (a `git worktree`
 * of another commit with node_modules symlinked does). The label `naive` starts that root's
 * bench/servers/naive-redis.mjs over a Feast-style copy instead of malt. One redis-server
 * (core 1) holds every build's own copy of the sample lake (its own key prefix, loaded with that
 * build's loader); every server runs on core 0; wrk (1 thread, 50 connections, core 1) drives
 * each in turn, the order alternating by round, and the server's CPU time from /proc over the
 * run is divided by the requests answered. Workloads as in the suite: batch100/batch10 the
 * http-batch bodies, single the http-hit list, redis uniform ids over BIG players (env, default
 * 200000; the suite uses 1000000) with a 1 MiB cache. Lakes are cached under DATA_DIR (env,
 * default bench/.data). Everything listens on 127.0.0.1 and is stopped by PID at exit.
 *
 * --rate <calls/s>: instead of wrk's closed loop, the native open-loop generator (bench/loadgen,
 * HTTP mode, 4 keep-alive connections; latency from each call's intended send time) offers that
 * rate to each server in turn; per round it prints the server's CPU per request and the p50/p99/
 * p99.9 (e.g. the Redis path's p99 at 5,000/s, malt vs the naive handler). Its ids are the first
 * 12 000 of the workload's list (one command-line argument), cycled.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { parseWrkOutput, writeWrkScript } from './lib/wrk-script.mjs';
const [workload, secsS, roundsS, ...rest] = process.argv.slice(2);
const secs = Number(secsS), rounds = Number(roundsS);
let profDir = null; const trees = [];
let openRate = 0;
for (let i = 0; i < rest.length; i++) { if (rest[i] === '--cpuprof') profDir = rest[++i]; else if (rest[i] === '--rate') openRate = Number(rest[++i]); else { const [l, r] = rest[i].split('='); trees.push({ label: l, root: r }); } }
const big = workload === 'redis';
const players = big ? Number(process.env.BIG ?? 200_000) : 100_000;
const dataDir = process.env.DATA_DIR ?? path.join(path.dirname(new URL(import.meta.url).pathname), '.data');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ab-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function freePort() { return new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); }); }
const children = [];
process.on('exit', () => { for (const c of children) try { process.kill(c.pid); } catch {} });
process.on('SIGINT', () => process.exit(1));
const rport = await freePort();
const rdir = mkdtempSync(path.join(os.tmpdir(), 'ab-redis-'));
const redis = spawn('taskset', ['-c', '1', 'redis-server', '--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', rdir], { stdio: 'ignore' });
children.push(redis);
await sleep(300);
const redisUrl = `redis://127.0.0.1:${rport}`;
const first = await import(path.join(trees[0].root, 'bench/lib/dataset.mjs'));
const lake = first.sampleLake(dataDir, players, console.log);
let requests;
if (workload === 'batch100' || workload === 'batch10') {
  const size = workload === 'batch100' ? 100 : 10;
  requests = first.zipfBatches(players, size, size >= 100 ? 50 : 200, 13 + size).map((ids) => ({ method: 'POST', path: '/v1/entities/batch', body: JSON.stringify({ entity_ids: ids }) }));
} else if (workload === 'single') {
  requests = first.zipfIds(players, 100_000).map((id) => ({ method: 'GET', path: `/v1/entities/${id}` }));
} else {
  requests = first.uniformIds(players, 400_000).map((id) => ({ method: 'GET', path: `/v1/entities/${id}` }));
}
const script = writeWrkScript(tmp, requests);
for (const [k, t] of trees.entries()) {
  const ds = await import(path.join(t.root, 'bench/lib/dataset.mjs'));
  if (t.label === 'naive') {
    const doc = ds.maltDocument(lake, { redisUrl, keyPrefix: `abn`, cacheMaxBytes: 0 });
    const { writeFeastMinimal } = await import(path.join(t.root, 'bench/lib/feast-layout.mjs'));
    const { Redis } = await import(path.join(t.root, 'node_modules/ioredis/built/index.js'));
    const rc = new Redis(redisUrl);
    const columns = Object.entries(doc.datasets[0].columns).map(([name, type]) => ({ name, type }));
    const t0 = Date.now();
    await writeFeastMinimal(rc, doc.datasets[0].source.uri, doc.datasets[0].key, columns, 'fn:');
    rc.disconnect();
    console.log(`feast copy in ${Date.now() - t0} ms`);
    // the version string: malt's answers carry it; the naive server echoes what it is given
    const args = JSON.stringify({ redisUrl, feastPrefix: 'fn:', dataset: ds.DATASET, version: '1', columns, defaults: doc.datasets[0].defaults ?? {} });
    const flags = profDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(profDir, t.label)] : [];
    const child = spawn('taskset', ['-c', '0', process.execPath, ...flags, path.join(t.root, 'bench/servers/naive-redis.mjs'), args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: t.root });
    children.push(child); t.child = child; t.pid = child.pid;
    t.port = await new Promise((res, rej) => { child.on('message', (m) => { if (m.type === 'ready') res(m.httpPort); if (m.type === 'error') rej(new Error(m.message)); }); });
    continue;
  }
  const doc = ds.maltDocument(lake, { redisUrl, keyPrefix: `ab${k}`, cacheMaxBytes: big ? 1024 * 1024 : 64 * 1024 * 1024 });
  const t0 = Date.now();
  await ds.loadIntoRedis(ds.maltConfig(doc));
  console.log(`loaded ${t.label} in ${Date.now() - t0} ms`);
  const flags = profDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(profDir, t.label)] : [];
  const child = spawn('taskset', ['-c', '0', process.execPath, ...flags, path.join(t.root, 'bench/servers/malt-server.mjs'), JSON.stringify(doc)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: t.root });
  children.push(child);
  t.child = child;
  t.port = await new Promise((res, rej) => { child.on('message', (m) => { if (m.type === 'ready') res(m.httpPort); if (m.type === 'error') rej(new Error(m.message)); }); });
  // taskset execs node, so child.pid is node's pid
  t.pid = child.pid;
}
function cpuTicks(pid) { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); }
function wrk(port, d) {
  const out = spawnSync('taskset', ['-c', '1', 'wrk', '-t', '1', '-c', '50', '-d', `${d}s`, '-s', script, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  const j = parseWrkOutput(out);
  return { n: j.requests, non2xx: j.non2xx, us: j.us, p99: j.p99 };
}
let loadgenBin = null;
let loadgenIds = '';
if (openRate > 0) {
  if (workload === 'batch100' || workload === 'batch10') throw new Error('--rate drives GET /v1/entities/:id only (single, redis)');
  const { buildLoadgen } = await import('./lib/loadgen-build.mjs');
  const lg = buildLoadgen();
  if (lg.missing) throw new Error(lg.missing);
  loadgenBin = lg.bin;
  loadgenIds = requests.slice(0, 12_000).map((r) => r.path.slice('/v1/entities/'.length)).join(',');
}
function openLoop(port, d) {
  const out = spawnSync('taskset', ['-c', '1', loadgenBin, '-mode', 'http', '-target', `http://127.0.0.1:${port}/v1/entities/`, '-ids', loadgenIds,
    '-rate', String(openRate), '-conns', '4', '-duration', `${d}s`, '-warmup', '1s', '-timeout', '5s'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (out.status !== 0) throw new Error(`loadgen exited ${out.status}: ${out.stderr}`);
  const j = JSON.parse(out.stdout);
  return { n: j.ok + j.errors, non2xx: j.errors, us: (j.ok + j.errors) / Math.max(1, j.achievedRate) * 1e6, p99: j.latencyMs.p99, p50: j.latencyMs.p50, p999: j.latencyMs['p99.9'] ?? j.latencyMs.p999, genCpu: j.generator.cpuFraction };
}
const TCK = 100; // USER_HZ
for (const t of trees) { if (openRate > 0) openLoop(t.port, Number(process.env.WARMUP_S ?? 3)); else wrk(t.port, Number(process.env.WARMUP_S ?? 3)); t.res = []; }
for (let r = 0; r < rounds; r++) {
  for (const t of (r % 2 ? [...trees].reverse() : trees)) {
    const c0 = cpuTicks(t.pid);
    const w = openRate > 0 ? openLoop(t.port, secs) : wrk(t.port, secs);
    const c1 = cpuTicks(t.pid);
    const usPerReq = ((c1 - c0) / TCK) * 1e6 / w.n;
    t.res.push({ usPerReq, rps: w.n / (w.us / 1e6), non2xx: w.non2xx, p99: w.p99 });
    const open = openRate > 0 ? `, p50 ${w.p50} ms, p99.9 ${w.p999} ms, generator ${w.genCpu} core` : '';
    console.log(`round ${r} ${t.label}: ${usPerReq.toFixed(1)} µs/req, ${(w.n / (w.us / 1e6)).toFixed(0)} req/s, p99 ${w.p99.toFixed(2)} ms${open}, non2xx ${w.non2xx}, load ${os.loadavg()[0].toFixed(1)}`);
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
for (const t of trees) console.log(`SUMMARY ${t.label}: median ${med(t.res.map((x) => x.usPerReq)).toFixed(1)} µs/req [${t.res.map((x) => x.usPerReq.toFixed(0)).join(' ')}], median ${med(t.res.map((x) => x.rps)).toFixed(0)} req/s, p99 ms [${t.res.map((x) => x.p99.toFixed(2)).join(' ')}] (median ${med(t.res.map((x) => x.p99)).toFixed(2)})`);
const base = trees.find((t) => t.label === 'naive');
if (base) {
  for (const t of trees.filter((x) => x !== base)) {
    const cpu = t.res.map((x, r) => base.res[r].usPerReq / x.usPerReq);
    const rps = t.res.map((x, r) => x.rps / base.res[r].rps);
    console.log(`RATIO ${t.label} ÷ naive, per round: CPU ${cpu.map((x) => x.toFixed(2)).join(' ')} (median ${med(cpu).toFixed(2)}), req/s ${rps.map((x) => x.toFixed(2)).join(' ')} (median ${med(rps).toFixed(2)})`);
  }
}
for (const t of trees) { t.child.send({ type: 'stop' }); }
await sleep(1500);
process.exit(0);
