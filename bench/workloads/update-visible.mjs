#!/usr/bin/env node
/**
 * Update → visible latency on a second replica under read load (issue 8), side by side with the
 * read-only run:
 *
 *   node bench/workloads/update-visible.mjs [--players 100000] [--rounds 3] [--duration 5]
 *        [--connections 32] [--update-interval-ms 50] [--probe-players 1000] [--data-dir bench/.data]
 *        [--out <file.json>]
 *
 * One redis-server, two `malt serve` replicas (startServing from dist/, bench/servers/malt-server.mjs)
 * over the sample lake's player_features with updates on. wrk saturates replica B with
 * GET /v1/entities/:id over Zipf(0.99) ids (mostly cache hits, as http-hit). A prober in this
 * process polls B for one hot player every millisecond in every round; in an "updates" round it
 * also pushes an upsert of that player's ltv to replica A every --update-interval-ms and times
 * from just before the push is sent until B first serves the new value (so the latency includes
 * A's write, the pub/sub notice, B's invalidation and B's re-read of Redis); pushAckMs is the
 * push's own round trip on A, for comparison. Read-only and
 * updates rounds alternate (RO, UP, RO, UP, …) so drift on the shared 2 cores hits both alike;
 * the read ratio is updates-round throughput / the mean of the read-only rounds around it.
 * Goals: read throughput ≥ 0.9× the read-only run, update → visible p99 ≤ 100 ms.
 * Everything listens on 127.0.0.1 and is stopped by PID.
 */
import { Agent, request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DATASET, loadIntoRedis, maltConfig, maltDocument, sampleLake, zipfIds } from '../lib/dataset.mjs';
import { summarize } from '../lib/latency.mjs';
import { CLIENT_CORE, commandExists, cpuSeconds, installCleanup, runToEnd, sleep, stopAll } from '../lib/processes.mjs';
import { startRedis } from '../lib/redis.mjs';
import { startServer } from '../lib/servers.mjs';
import { parseWrkOutput, writeWrkScript } from '../lib/wrk-script.mjs';
import { samplePlayerId } from '../../dist/sample/sample-lake.js';

const { values: opt } = parseArgs({
  options: {
    players: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    'update-interval-ms': { type: 'string', default: '50' },
    'probe-players': { type: 'string', default: '1000' },
    'data-dir': { type: 'string', default: fileURLToPath(new URL('../.data', import.meta.url)) },
    out: { type: 'string' },
  },
});
const players = Number(opt.players);
const rounds = Number(opt.rounds);
const durationS = Math.max(1, Math.round(Number(opt.duration)));
const connections = Number(opt.connections);
const updateIntervalMs = Number(opt['update-interval-ms']);
const probePlayers = Number(opt['probe-players']);
const log = (m) => process.stderr.write(`${m}\n`);

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
function http(port, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** wrk, one thread, cycling a request list from a random start; BENCHJSON from its done() hook. */
async function wrk(port, paths, dir) {
  const script = writeWrkScript(dir, paths.map((p) => ({ method: 'GET', path: p })));
  const out = await runToEnd('wrk', ['-t', '1', '-c', String(connections), '-d', `${durationS}s`, '-s', script, `http://127.0.0.1:${port}`], { core: CLIENT_CORE, timeoutMs: (durationS + 30) * 1000 });
  const j = parseWrkOutput(out);
  return { rps: (j.requests - j.non2xx) / (j.us / 1e6), non2xx: j.non2xx, errors: j.errors + j.timeouts, p50Ms: j.p50, p99Ms: j.p99 };
}

/**
 * The prober of one round: polls B for `probeId` every ~1 ms until `stop()`; with `pushPort`,
 * pushes a new ltv to A every updateIntervalMs and records how long until B serves it.
 */
function prober(readPort, pushPort, probeIds) {
  let running = true;
  const visibleMs = [];
  const ackMs = [];
  let timeouts = 0;
  let polls = 0;
  const read = async (id) => {
    polls++;
    const r = await http(readPort, 'GET', `/v1/entities/${id}?datasets=${DATASET}`);
    return r.status === 200 ? JSON.parse(r.text).datasets[0].features.ltv.value : undefined;
  };
  const loop = (async () => {
    let n = 0;
    while (running) {
      const id = probeIds[n % probeIds.length];
      n++;
      if (pushPort === null) {
        // Read-only: the same polling pattern, so both rounds put the same load on B.
        const until = performance.now() + updateIntervalMs;
        while (running && performance.now() < until) { await read(id); await sleep(1); }
        continue;
      }
      const value = 1_000_000 + n + Math.random();
      const t0 = performance.now();
      const pushed = http(pushPort, 'POST', `/v1/datasets/${DATASET}/updates`, { updates: [{ entity_id: id, op: 'upsert', values: { ltv: value } }] })
        .then((res) => { ackMs.push(performance.now() - t0); return res; });
      let seen = false;
      while (performance.now() - t0 < 2000) {
        if ((await read(id)) === value) { seen = true; break; }
        await sleep(1);
      }
      const res = await pushed;
      if (res.status !== 200) throw new Error(`push answered ${res.status}: ${res.text}`);
      if (seen) visibleMs.push(performance.now() - t0);
      else timeouts++;
      const rest = t0 + updateIntervalMs - performance.now();
      if (rest > 0) await sleep(rest);
    }
  })();
  return { async stop() { running = false; await loop; return { visibleMs, ackMs, timeouts, polls }; } };
}

async function main() {
  if (!commandExists('wrk')) throw new Error('wrk is not installed (apt-get install -y wrk)');
  installCleanup(() => stopAll());
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'malt-bench-uv-'));
  const lake = sampleLake(opt['data-dir'], players, log);
  const redis = await startRedis();
  const replicas = [];
  try {
    const doc = maltDocument(lake, { redisUrl: redis.url, keyPrefix: 'buv', cacheMaxBytes: 64 * 1024 * 1024 });
    doc.datasets = doc.datasets.map((d) => ({ ...d, updates: { enabled: true } }));
    await loadIntoRedis(maltConfig(doc));
    const a = await startServer('malt', [JSON.stringify(doc)], { label: 'malt A (writes)' });
    const b = await startServer('malt', [JSON.stringify(doc)], { label: 'malt B (reads)' });
    replicas.push(a, b);
    const ids = zipfIds(players, 100_000);
    const paths = ids.map((id) => `/v1/entities/${id}`);
    // Probe among the hottest players (Zipf ranks 0..probe-players-1, in a fixed shuffled order):
    // they sit in B's cache, so each update must invalidate it there. --probe-players 20 is the
    // worst case: every update evicts one of the 20 hottest keys, which the read load then misses.
    const probeIds = shuffled(Array.from({ length: probePlayers }, (_, i) => samplePlayerId(i)));
    log(`warm-up: ${durationS} s of reads on B`);
    await wrk(b.httpPort, paths, tmp);
    const results = [];
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['read-only', 'updates']) {
        const cpu0 = [cpuSeconds(a.pid), cpuSeconds(b.pid), cpuSeconds(redis.pid)];
        const p = prober(b.httpPort, mode === 'updates' ? a.httpPort : null, probeIds);
        const reads = await wrk(b.httpPort, paths, tmp);
        const probe = await p.stop();
        const cpu = [cpuSeconds(a.pid), cpuSeconds(b.pid), cpuSeconds(redis.pid)].map((x, i) => x - cpu0[i]);
        // CPU per read on B (its CPU seconds / the reads it answered): how much work a read costs
        // there, less sensitive than throughput to what else the shared cores run.
        reads.bCpuUsPerRead = (cpu[1] * 1e6) / (reads.rps * durationS + probe.polls);
        reads.cpuSeconds = { a: cpu[0], b: cpu[1], redis: cpu[2] };
        results.push({ round: r + 1, mode, ...reads, ...(mode === 'updates' ? { updates: probe.visibleMs.length, timeouts: probe.timeouts, visible: summarize(probe.visibleMs), pushAck: summarize(probe.ackMs) } : {}), probePolls: probe.polls, _visible: probe.visibleMs, _ack: probe.ackMs });
        log(`round ${r + 1} ${mode.padEnd(9)} ${Math.round(reads.rps)} req/s, B ${Math.round(reads.bCpuUsPerRead)} µs CPU/read, A ${reads.cpuSeconds.a.toFixed(2)} s CPU (non2xx ${reads.non2xx}, errors ${reads.errors})${mode === 'updates' ? `, ${probe.visibleMs.length} updates visible p50 ${summarize(probe.visibleMs).p50?.toFixed(1)} ms p99 ${summarize(probe.visibleMs).p99?.toFixed(1)} ms, ${probe.timeouts} not seen in 2 s` : ''}`);
      }
    }
    const ro = results.filter((x) => x.mode === 'read-only');
    const up = results.filter((x) => x.mode === 'updates');
    // Each updates round against the read-only rounds either side of it (the last has one).
    const ratios = up.map((u, i) => u.rps / ((ro[i].rps + (ro[i + 1]?.rps ?? ro[i].rps)) / 2));
    const allVisible = up.flatMap((u) => u._visible);
    const cpuRatios = up.map((u, i) => ((ro[i].bCpuUsPerRead + (ro[i + 1]?.bCpuUsPerRead ?? ro[i].bCpuUsPerRead)) / 2) / u.bCpuUsPerRead);
    const allAck = up.flatMap((u) => u._ack);
    const summary = {
      workload: 'update-visible', at: new Date().toISOString(), players, rounds, durationS, connections, updateIntervalMs, probePlayers,
      uptime: os.loadavg(), readOnlyRps: ro.map((x) => Math.round(x.rps)), updatesRps: up.map((x) => Math.round(x.rps)),
      readRatio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), perRound: ratios.map((x) => Number(x.toFixed(3))) },
      // Reads per B CPU second, updates rounds / read-only rounds around them (1 = no extra work per read).
      readsPerCpuRatio: { median: median(cpuRatios), min: Math.min(...cpuRatios), max: Math.max(...cpuRatios), perRound: cpuRatios.map((x) => Number(x.toFixed(3))) },
      bCpuUsPerRead: { readOnly: ro.map((x) => Math.round(x.bCpuUsPerRead)), updates: up.map((x) => Math.round(x.bCpuUsPerRead)) },
      visibleMs: summarize(allVisible), pushAckMs: summarize(allAck), notSeenIn2s: up.reduce((n, u) => n + u.timeouts, 0),
      goals: { readRatioAtLeast: 0.9, p99AtMostMs: 100 },
      rounds_detail: results.map(({ _visible, _ack, ...rest }) => rest),
    };
    summary.goalsMet = { readRatio: summary.readRatio.median >= 0.9, p99: (summary.visibleMs.p99 ?? Infinity) <= 100 };
    const json = JSON.stringify(summary, null, 2);
    if (opt.out) writeFileSync(opt.out, `${json}\n`);
    process.stdout.write(`${json}\n`);
  } finally {
    for (const s of replicas) await s.stop();
    await redis.stop();
    agent.destroy();
  }
}

/** A fixed (seeded) shuffle, so every run probes in the same order. */
function shuffled(xs) {
  let seed = 42;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exitCode = 1;
});
