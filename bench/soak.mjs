#!/usr/bin/env node
/**
 * Soak: `malt serve` (a child process, its own redis-server) at a fixed offered rate for N
 * minutes, mixed single reads, batch reads and pushed updates, with a full reload (`malt load
 * --force`, a new version published and the old one reclaimed) in the middle. Every window
 * (default 10 s) it prints and records the server's RSS and heap, the p50/p99/max latency of
 * what was sent in that window (open loop: from each request's intended send time), achieved
 * rate and errors; at the end, RSS growth after the warm-up and p99 spread across windows.
 *
 *   npm run build && node bench/soak.mjs --minutes 10 --rate 2000
 *   node bench/soak.mjs --minutes 1 --rate 500 --players 20000      # a quick look
 *
 * Options: --minutes (default 10), --rate (requests/s, default 2000), --players (default
 * 100 000), --update-share (default 0.1), --batch-share (default 0.1, batches of 20),
 * --window (s, default 10), --out (JSON results, default bench/results/soak/<timestamp>.json).
 * Everything listens on 127.0.0.1; children are stopped by PID.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATASET, maltDocument, sampleLake } from './lib/dataset.mjs';
import { summarize } from './lib/latency.mjs';
import { freePort, sleep, stopChild } from './lib/processes.mjs';
import { startRedis } from './lib/redis.mjs';
import { prng, samplePlayerId } from '../dist/sample/sample-lake.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin/malt.js');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const opts = {
  minutes: arg('minutes', 10), rate: arg('rate', 2000), players: arg('players', 100_000),
  updateShare: arg('update-share', 0.1), batchShare: arg('batch-share', 0.1), windowS: arg('window', 10),
};
const outIdx = process.argv.indexOf('--out');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outFile = outIdx > 0 ? process.argv[outIdx + 1] : path.join(ROOT, 'bench/results/soak', `${stamp}.json`);
const log = (m) => process.stderr.write(`${m}\n`);

/** The process and its descendants (bin/malt.js may run the server as a child with node flags). */
function processTree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const c of readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch { /* exited */ }
  }
  return out;
}

function procMem(pid) {
  let rss = 0, hwm = 0;
  for (const p of processTree(pid)) {
    try {
      const s = readFileSync(`/proc/${p}/status`, 'utf8');
      const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0);
      rss += kb('VmRSS');
      hwm += kb('VmHWM');
    } catch { /* exited */ }
  }
  return { rssMiB: +(rss / 1024).toFixed(1), hwmMiB: +(hwm / 1024).toFixed(1) };
}

function runMalt(args, env) {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => { err += d; });
    c.on('exit', (code) => resolve({ code, err }));
  });
}

async function main() {
  const dataDir = path.join(ROOT, 'bench/.data');
  const lake = sampleLake(dataDir, opts.players, log);
  const redis = await startRedis();
  const tmp = path.join(os.tmpdir(), `malt-soak-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  const doc = maltDocument(lake, { redisUrl: redis.url, keyPrefix: 'soak', cacheMaxBytes: 32 * 1024 * 1024 });
  doc.datasets = doc.datasets.map((d) => ({ ...d, updates: { enabled: true } }));
  const file = path.join(tmp, 'malt.json');
  writeFileSync(file, JSON.stringify(doc));
  const env = {};
  const t0 = performance.now();
  const first = await runMalt(['load', DATASET, '-c', file], env);
  if (first.code !== 0) throw new Error(`load failed: ${first.err}`);
  log(`loaded ${opts.players} players in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const httpPort = await freePort();
  const server = spawn(process.execPath, [BIN, 'serve', '-c', file], {
    env: { ...process.env, MALT_HTTP_PORT: String(httpPort), MALT_GRPC_PORT: String(await freePort()) }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let serverErr = '';
  server.stderr.on('data', (d) => { serverErr = (serverErr + d).slice(-10_000); });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const get = (p) => new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: p, agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.end();
  });
  const post = (p, body) => new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, path: p, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.end(body);
  });
  for (let i = 0; (await get('/readyz')) !== 200; i++) {
    if (i > 200 || server.exitCode !== null) throw new Error(`malt serve did not become ready: ${serverErr}`);
    await sleep(50);
  }

  const rnd = prng(42);
  const id = () => samplePlayerId(Math.floor(rnd() * opts.players));
  const windows = [];
  let cur = { lat: [], errors: 0, sent: 0, kinds: { read: 0, batch: 0, update: 0 } };
  const totalMs = opts.minutes * 60_000;
  const start = performance.now();
  let reload = null;
  let sent = 0;
  let inFlight = 0;
  const maxInFlight = 2000; // bounded: past this the run is overloaded, counted as errors

  const fire = (intended) => {
    const w = cur;
    w.sent++;
    if (inFlight >= maxInFlight) { w.errors++; return; }
    const r = rnd();
    let p;
    if (r < opts.updateShare) {
      w.kinds.update++;
      p = post(`/v1/datasets/${DATASET}/updates`, JSON.stringify({ updates: [{ entity_id: id(), op: 'upsert', values: { churn_score: Math.round(rnd() * 1000) / 1000 } }] }));
    } else if (r < opts.updateShare + opts.batchShare) {
      w.kinds.batch++;
      p = post('/v1/entities/batch', JSON.stringify({ entity_ids: Array.from({ length: 20 }, id) }));
    } else {
      w.kinds.read++;
      p = get(`/v1/entities/${id()}`);
    }
    inFlight++;
    p.then((status) => {
      inFlight--;
      w.lat.push(performance.now() - intended);
      if (status !== 200) w.errors++;
    });
  };

  const reloadNote = () => {
    if (!reload || reload.reported) return null;
    if (reload.state !== 'running') reload.reported = true; // shown while running and once when done
    return reload.state;
  };

  const closeWindow = () => {
    const w = cur;
    cur = { lat: [], errors: 0, sent: 0, kinds: { read: 0, batch: 0, update: 0 } };
    const s = summarize(Float64Array.from(w.lat));
    const mem = procMem(server.pid);
    const row = { t: Math.round((performance.now() - start) / 1000), sent: w.sent, achievedRps: Math.round(w.lat.length / opts.windowS), errors: w.errors, p50: s.p50, p99: s.p99, max: s.max, ...mem, reload: reloadNote() };
    windows.push(row);
    log(`t=${String(row.t).padStart(4)}s rss=${row.rssMiB} MiB p50=${row.p50} p99=${row.p99} max=${row.max} ms rps=${row.achievedRps} errors=${row.errors}${row.reload ? ` reload=${row.reload}` : ''}`);
  };

  log(`soak: ${opts.minutes} min at ${opts.rate}/s (updates ${opts.updateShare}, batches ${opts.batchShare}), reload at half time`);
  const intervalMs = 1000 / opts.rate;
  let nextWindow = start + opts.windowS * 1000;
  while (performance.now() - start < totalMs) {
    const now = performance.now();
    // Open loop: send everything whose intended time has come, each timed from that time.
    while (start + sent * intervalMs <= now) fire(start + sent++ * intervalMs);
    if (now >= nextWindow) { closeWindow(); nextWindow += opts.windowS * 1000; }
    if (!reload && now - start >= totalMs / 2) {
      reload = { state: 'running', at: Math.round((now - start) / 1000) };
      const r0 = performance.now();
      runMalt(['load', DATASET, '--force', '-c', file], env).then((r) => {
        reload.state = r.code === 0 ? `done in ${((performance.now() - r0) / 1000).toFixed(1)} s` : `failed (${r.code}): ${r.err.slice(0, 200)}`;
      });
    }
    await sleep(1);
  }
  while (inFlight > 0) await sleep(10);
  closeWindow();
  agent.destroy();
  const exited = server.exitCode === null;
  await stopChild(server, 5000);
  await redis.stop();

  const warm = windows.slice(Math.min(2, windows.length - 1));
  const rss = warm.map((w) => w.rssMiB);
  const p99s = warm.map((w) => w.p99).filter((x) => x !== null).sort((a, b) => a - b);
  const summary = {
    rssAfterWarmupMiB: rss[0], rssEndMiB: rss[rss.length - 1], rssMaxMiB: Math.max(...rss), rssGrowthMiB: +(rss[rss.length - 1] - rss[0]).toFixed(1),
    p99MedianMs: p99s[Math.floor(p99s.length / 2)], p99MaxMs: p99s[p99s.length - 1], totalErrors: windows.reduce((a, w) => a + w.errors, 0),
    reload: reload?.state, serverStayedUp: exited,
  };
  log(`summary: ${JSON.stringify(summary)}`);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify({ opts, node: process.version, load: os.loadavg(), windows, summary }, null, 2)}\n`);
  log(`results: ${outFile}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
