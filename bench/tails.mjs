#!/usr/bin/env node
/**
 * gRPC tail latency (issue 10): malt's Get / BatchGet and HTTP GET against raw node:http2 sending
 * pre-framed bytes (the floor for any Node gRPC server) and bare grpc-js, all at the same offered
 * rates with the native open-loop generator (bench/loadgen, Go), rounds alternating between
 * servers, each point repeated. See bench/README.md "Tails".
 *
 *   node bench/tails.mjs                 # ~4-5 min: 3 rounds × (Get at 5k and 10k/s, HTTP GET at
 *                                        # the same rates, BatchGet-100 at 500/s, saturation)
 *   node bench/tails.mjs --quick         # < 1 min, numbers meaningless (a smoke)
 *   node bench/tails.mjs --variant 'semi64:--max-semi-space-size=64'   # another malt process
 *        with these node flags, measured in the same rounds; --node=<binary> runs it on another
 *        node (e.g. .tools/node24/bin/node), --dist=<dir> on another build (before/after);
 *        NAME=value sets an environment variable of that process (e.g. MALT_GRPC_FAST_PATH=false)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchFlags } from '../dist/cli/launch-flags.js';
import { DEFAULTS } from '../dist/config.js';
import { loadIntoRedis, maltConfig, maltDocument, sampleLake, zipfBatches } from './lib/dataset.mjs';
import { batchGetFrame, getFrame, rawCall } from './lib/grpc-wire.mjs';
import { buildLoadgen } from './lib/loadgen-build.mjs';
import { foreignLoad, installCleanup, sleep, stopAll } from './lib/processes.mjs';
import { startRedis } from './lib/redis.mjs';
import { startServer } from './lib/servers.mjs';
import { markdown, roundRatios, saturationRatios, summarise } from './lib/tails-report.mjs';
import { runTails } from './workloads/tails.mjs';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' },
    rates: { type: 'string' }, 'batch-rate': { type: 'string' }, conns: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '128' }, players: { type: 'string' },
    'no-saturation': { type: 'boolean', default: false }, 'gc-trace': { type: 'boolean', default: false }, variant: { type: 'string', multiple: true, default: [] },
    'malt-flags': { type: 'string' }, points: { type: 'string' }, out: { type: 'string' }, 'data-dir': { type: 'string', default: 'bench/.data' },
  },
});
const q = a.quick;
const opts = {
  quick: q,
  rounds: Number(a.rounds ?? (q ? 1 : 3)), durationS: Number(a.duration ?? (q ? 1 : 4)), warmupS: Number(a.warmup ?? (q ? 0.5 : 1)),
  rates: (a.rates ?? (q ? '2000' : '5000,10000')).split(',').map(Number), batchRate: Number(a['batch-rate'] ?? (q ? 200 : 500)),
  conns: Number(a.conns), concurrency: Number(a.concurrency), players: Number(a.players ?? (q ? 2000 : 20000)),
  saturation: !a['no-saturation'], gcTrace: a['gc-trace'], points: a.points ? a.points.split(',') : null, saturationS: q ? 1 : 3, dataDir: path.resolve(a['data-dir']),
  out: path.resolve(a.out ?? (q ? 'bench/.data/tails-quick' : 'bench/results/tails')),
};
const log = (m) => console.error(m);

/**
 * malt processes: "malt" with the node flags bin/malt.js gives `malt serve` (MALT_NODE_FLAGS
 * respected; --malt-flags replaces them) plus each --variant name:flags (which replace them too:
 * `--variant 'v8default:'` runs with none).
 */
function maltVariants() {
  const vs = [{ key: 'malt', label: 'malt', flags: a['malt-flags'] ?? launchFlags({ args: ['serve'], env: process.env, execArgv: [] }).join(' ') }];
  for (const v of a.variant) {
    const i = v.indexOf(':');
    vs.push({ key: `malt-${v.slice(0, i)}`, label: `malt ${v.slice(0, i)}`, flags: v.slice(i + 1) });
  }
  return vs;
}

/**
 * --gc-trace: the server runs with --trace-gc-nvp; its stdout lines (one per GC) collect in
 * `gcLines` for lib/gc-trace.mjs (bytes allocated and scavenges per call: they do not depend on
 * how much CPU other processes leave the server).
 */
function gcTrace(nodeFlags = []) {
  if (!opts.gcTrace) return { nodeFlags };
  const gcLines = { text: '' };
  return { nodeFlags: ['--trace-gc-nvp', ...nodeFlags], onStdout: (d) => { gcLines.text += d; }, gcLines };
}

async function start(kind, args, o) {
  const s = await startServer(kind, args, o);
  s.gcLines = o.gcLines ?? null;
  return s;
}

async function main() {
  const loadgen = buildLoadgen(path.join(opts.dataDir, 'loadgen'));
  if (loadgen.missing) {
    log(`bench/tails.mjs needs the native load generator and cannot build it: ${loadgen.missing}`);
    process.exit(2);
  }
  log(`load generator: ${loadgen.bin} (${loadgen.built ? 'built now' : 'cached'}, ${loadgen.goVersion})`);
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'malt-tails-'));
  installCleanup(async () => { await stopAll(); rmSync(tmpDir, { recursive: true, force: true }); });
  const redis = await startRedis();
  try {
    const lake = sampleLake(opts.dataDir, opts.players, log);
    const doc = maltDocument(lake, { redisUrl: redis.url, keyPrefix: 'btail', cacheMaxBytes: DEFAULTS.cacheMaxBytes });
    await loadIntoRedis(maltConfig(doc));
    const batch = zipfBatches(opts.players, 100, 1, 113)[0];
    const ids = { hot: batch[0], batch };
    const servers = {};
    for (const v of maltVariants()) {
      const flags = (v.flags ?? '').split(' ').filter(Boolean);
      // --node=<binary> and --dist=<build> are the runner's, not node's.
      const own = (name) => flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);
      const node = own('node');
      const dist = own('dist');
      const ENV = /^[A-Z][A-Z0-9_]*=/;
      const env = Object.fromEntries(flags.filter((f) => ENV.test(f)).map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
      if (dist) env.MALT_BENCH_DIST = path.resolve(dist);
      servers[v.key] = await start('malt', [JSON.stringify(doc)], {
        label: v.label, ...gcTrace(flags.filter((f) => !/^--(node|dist)=/.test(f) && !ENV.test(f))),
        ...(node ? { node: path.resolve(node) } : {}), ...(Object.keys(env).length > 0 ? { env } : {}),
      });
    }
    const payloads = await recordPayloads(servers.malt.grpcPort, ids, tmpDir);
    servers.raw = await start('grpc-raw', [payloads], { label: 'raw node:http2', ...gcTrace() });
    servers['grpc-js'] = await start('grpc-js', [payloads, 'bytes'], { label: 'bare grpc-js', ...gcTrace() });
    const checks = await sameBytes(servers, ids);
    const maltGrpc = maltVariants().map((v) => v.key);
    const maltHttp = maltGrpc.map((k) => `${k}-http`);
    // The same process measured over HTTP: its getters (stderr, exitCode) stay live.
    for (const k of maltGrpc) servers[`${k}-http`] = Object.create(servers[k], { label: { value: `${servers[k].label} HTTP` } });
    for (const s of Object.values(servers)) log(`  ${s.label}: pid ${s.pid}${s.pinnedCore !== null ? `, core ${s.pinnedCore}` : ''}`);
    const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    await waitQuiet([redis.pid, ...Object.values(servers).map((s) => s.pid)]);
    const ctx = { opts, ids, servers, maltGrpc, maltHttp, loadgen, redis, log };
    const startedAt = new Date().toISOString();
    const { runs, failed } = await runTails(ctx);
    if (runs.length === 0 && failed.length === 0) throw new Error(`--points ${a.points} names no point`);
    const summary = summarise(runs);
    const rate0 = opts.rates.includes(5000) ? 5000 : opts.rates[0];
    const perRound = {};
    for (const rate of opts.rates) {
      perRound[`Get@${rate} ÷ raw node:http2`] = roundRatios(runs, maltGrpc, 'raw', { point: `get@${rate}` });
      perRound[`Get@${rate} ÷ malt HTTP`] = roundRatios(runs, maltGrpc, 'malt-http', { point: `get@${rate}`, basePoint: `http-get@${rate}` });
    }
    perRound[`Get@${rate0} ÷ bare grpc-js`] = roundRatios(runs, maltGrpc, 'grpc-js', { point: `get@${rate0}` });
    const result = {
      meta: { startedAt, ...opts, nodeVersions: [process.version], loadBefore, loadAfter: os.loadavg().map((x) => x.toFixed(2)).join(' '), loadgen: loadgen.goVersion, variants: maltVariants(), ids: { hot: ids.hot, batch: ids.batch.length } },
      checks, summary, ratios: { perRound, saturation: saturationRatios(summary, maltGrpc) }, failed, runs,
    };
    mkdirSync(opts.out, { recursive: true });
    const stamp = startedAt.replace(/[:.]/g, '-');
    writeFileSync(path.join(opts.out, `${stamp}.json`), `${JSON.stringify(result, null, 1)}\n`);
    writeFileSync(path.join(opts.out, 'latest.json'), `${JSON.stringify(result, null, 1)}\n`);
    const md = markdown(result);
    writeFileSync(path.join(opts.out, 'latest.md'), md);
    process.stdout.write(md);
  } finally {
    await redis.stop(); // its client first, so it does not try to reconnect while everything stops
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

/** malt's Get and BatchGet answers as message bytes, for the baselines to replay. */
async function recordPayloads(port, ids, dir) {
  const calls = {};
  const out = { calls, getBytes: {}, batchBytes: {} };
  for (const [method, frame, key, table] of [['Get', getFrame(ids.hot), ids.hot, 'getBytes'], ['BatchGet', batchGetFrame(ids.batch), ids.batch.join(','), 'batchBytes']]) {
    const r = await rawCall(port, method, frame);
    if (r.grpcStatus !== '0' || r.body[0] !== 0) throw new Error(`malt ${method}: grpc-status ${r.grpcStatus}`);
    const response = r.body.subarray(5).toString('base64');
    calls[method] = { request: frame.subarray(5).toString('base64'), response };
    out[table][key] = response;
  }
  const file = path.join(dir, 'tails-payloads.json');
  writeFileSync(file, JSON.stringify(out));
  return file;
}

/** Every gRPC server answers both requests with malt's exact bytes. */
async function sameBytes(servers, ids) {
  const checks = {};
  for (const [method, frame] of [['Get', getFrame(ids.hot)], ['BatchGet', batchGetFrame(ids.batch)]]) {
    const ref = await rawCall(servers.malt.grpcPort, method, frame);
    for (const key of ['raw', 'grpc-js']) {
      const r = await rawCall(servers[key].grpcPort, method, frame);
      if (r.grpcStatus !== '0' || !r.body.equals(ref.body)) throw new Error(`${servers[key].label} ${method} does not answer malt's bytes (grpc-status ${r.grpcStatus})`);
    }
    checks[method] = { responseBytes: ref.body.length - 5, sameBytes: true };
  }
  return checks;
}

/** Waits (at most 20 s) until everything else on the box uses < 15% of a core. */
async function waitQuiet(pids) {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const load = await foreignLoad(pids, 500);
    if (load < 0.15) return;
    log(`  waiting for a quieter box (other processes use ${(load * 100).toFixed(0)}% of a core)`);
    await sleep(1000);
  }
}

await main();
