#!/usr/bin/env node
/**
 * malt's bench suite: `node bench/run.mjs [workload...] [options]` (no workload = all).
 * Starts its own redis-server, writes/loads the sample lake, starts malt and the baselines in
 * their own pinned processes, runs each workload, writes bench/results/{<timestamp>,latest}.json,
 * latest.md and charts/*.svg, and stops everything it started (also on error and Ctrl+C).
 * See bench/README.md for the workloads and the method.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);

const WORKLOADS = {
  'http-hit': 'HTTP single lookup, Zipf players, mostly cache hits; vs bare node:http, bare fastify, naive fastify+ioredis',
  'http-batch': 'HTTP batches of 10 and 100 Zipf players; vs bare fastify, naive fastify+ioredis',
  'grpc-hit': 'gRPC Get of one hot player (cache hit); vs bare grpc-js',
  'grpc-batch': 'gRPC BatchGet of 10 and 100 players; vs bare grpc-js',
  'http-redis': 'HTTP single lookup, uniform over the big lake, cache much smaller than the set; vs naive fastify+ioredis',
  'redis-benchmark': 'redis-benchmark on the same redis-server: HGET (malt), HGETALL (naive), GET',
  'redis-memory': 'Redis bytes per player-row: malt layout vs Feast-style hash per entity',
  loader: 'malt load of a 15-column table (Parquet and Delta): rows/s and peak RSS; vs hyparquet decode alone, redis-cli --pipe (run by name only)',
};
/** Workloads run only when named (not part of "all"): the loader measures load, not serving. */
const BY_NAME_ONLY = new Set(['loader']);

const USAGE = `usage: node bench/run.mjs [workload...] [options]

workloads (default: all but loader, in this order):
${Object.entries(WORKLOADS).map(([k, v]) => `  ${k.padEnd(16)} ${v}`).join('\n')}

options:
  --duration <s>      measured seconds per run (default 4; --quick 0.25)
  --warmup <s>        warm-up seconds before each run (default 1; --quick 0.05)
  --quick             the CI smoke: tiny lakes, short runs, one fixed rate (malt only), node-only
                      generators (autocannon, the open-loop generator, node:http2 for gRPC)
  --players <n>       players in the default lake (default 100000; --quick 2000)
  --big-players <n>   players in the Redis-heavy lake (default 1000000; --quick 5000)
  --rows <n>          rows of the loader workload's table (default 1000000; --quick 4000)
  --out <dir>         results directory (default bench/results, bench/results/loader when only
                      loader runs; --quick: bench/.data/quick-results)
  --data-dir <dir>    cache for the sample lakes (default bench/.data)
  --profile           run every server under --cpu-prof and summarise where its time goes
  --install-tools     apt-get install missing h2load / wrk / redis-benchmark first (root)
  --no-rates          saturation runs only (for quick before/after checks and --profile)
  --no-wait-quiet     do not wait for other processes to go quiet before each run, nor repeat
                      a run they disturbed (both on by default, bounded; off in --quick)
  --list              list the workloads and exit
  --render <json>     only re-render latest.md and charts/ from a results JSON (next to it)
`;

function parseOptions(argv) {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      duration: { type: 'string' }, warmup: { type: 'string' }, quick: { type: 'boolean', default: false },
      players: { type: 'string' }, 'big-players': { type: 'string' }, rows: { type: 'string' }, out: { type: 'string' }, 'data-dir': { type: 'string' },
      profile: { type: 'boolean', default: false }, 'install-tools': { type: 'boolean', default: false },
      'no-wait-quiet': { type: 'boolean', default: false }, 'no-rates': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      render: { type: 'string' },
    },
  });
  const quick = values.quick;
  const num = (v, def) => (v === undefined ? def : Number(v));
  const duration = num(values.duration, quick ? 0.25 : 4);
  const warmup = num(values.warmup, quick ? 0.05 : 1);
  const opts = {
    quick, duration, warmup, rateDuration: duration, rateWarmup: warmup,
    players: num(values.players, quick ? 2000 : 100_000),
    bigPlayers: num(values['big-players'], quick ? 5000 : 1_000_000),
    loaderRows: num(values.rows, quick ? 4000 : 1_000_000),
    // --quick results are meaningless as numbers: keep them out of the committed bench/results;
    // a loader-only run keeps its own latest.* so it does not replace the serving suite's.
    out: path.resolve(values.out ?? (quick ? path.join(BENCH_DIR, '.data', 'quick-results')
      : positionals.length > 0 && positionals.every((w) => w === 'loader') ? path.join(BENCH_DIR, 'results', 'loader') : path.join(BENCH_DIR, 'results'))),
    dataDir: path.resolve(values['data-dir'] ?? path.join(BENCH_DIR, '.data')),
    profile: values.profile, installTools: values['install-tools'],
    // On a shared box: wait for other processes to go quiet before each run, repeat a disturbed run once.
    waitQuiet: !quick && !values['no-wait-quiet'], retryNoisy: !quick && !values['no-wait-quiet'],
    connections: quick ? 10 : 50,
    // --quick: autocannon sends this many requests per saturation run; fixed rates run on malt only.
    quickAmount: 1000,
    rateOnlyMalt: quick,
    listLength: quick ? 2000 : 100_000,
    zipfS: 0.99,
    smallCacheBytes: quick ? 64 * 1024 : 1024 * 1024,
    batchSizes: [10, 100],
    // gRPC single stops at 10k: the node:http2 generator cannot offer 20k req/s on one core.
    rates: quick ? { single: [200], grpcSingle: [200], batch10: [100], batch100: [50] } : { single: [1000, 5000, 10_000, 20_000], grpcSingle: [1000, 5000, 10_000], batch10: [500, 1000, 2000], batch100: [100, 250, 500] },
    redisBenchmarkRequests: 200_000,
  };
  // --no-rates: saturation runs only (quick before/after comparisons, profiles of the busy path).
  if (values['no-rates']) for (const k of Object.keys(opts.rates)) opts.rates[k] = [];
  const problems = [];
  for (const k of ['duration', 'warmup', 'players', 'bigPlayers', 'loaderRows']) if (!Number.isFinite(opts[k]) || opts[k] < 0) problems.push(`--${k} must be a non-negative number`);
  if (opts.duration <= 0) problems.push('--duration must be > 0');
  const unknown = positionals.filter((w) => !WORKLOADS[w]);
  if (unknown.length) problems.push(`unknown workload(s): ${unknown.join(', ')}`);
  if (!(opts.loaderRows >= 1)) problems.push('--rows must be at least 1');
  const all = Object.keys(WORKLOADS).filter((w) => !BY_NAME_ONLY.has(w));
  return { opts, workloads: positionals.length ? Object.keys(WORKLOADS).filter((w) => positionals.includes(w)) : all, values, problems };
}

const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

/** The commit measured (and whether src/, lua/ or proto/ differ from it), or MALT_BENCH_COMMIT. */
function measuredCommit() {
  const git = (...args) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return process.env.MALT_BENCH_COMMIT ?? 'unknown';
  const dirty = git('status', '--porcelain', '--', 'src', 'lua', 'proto').stdout.trim();
  return `${head.stdout.trim()}${dirty ? ' (with uncommitted changes in src/, lua/ or proto/)' : ''}`;
}

function newResults(opts, tools, startedAt, pinned) {
  return {
    meta: {
      startedAt: startedAt.toISOString(), command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(), quick: opts.quick,
      commit: measuredCommit(), node: process.versions.node, redisVersion: null,
      machine: { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? 'unknown', memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100) },
      pinning: pinned ? 'servers on core 0; load generators and redis-server on core 1 (taskset)' : 'none (taskset missing or < 2 cores): all processes share every core',
      tools, settings: { ...opts, out: undefined, dataDir: undefined, profileDir: undefined },
    },
    setup: {}, workloads: {},
  };
}

/** Runs the workloads in order, recording each as ok / skipped / failed; returns the failures. */
async function runWorkloads(ctx, workloads, results) {
  const { runWorkload } = await import('./workloads/index.mjs');
  let failed = 0;
  for (const name of workloads) {
    log(`workload ${name}`);
    const t0 = performance.now();
    const r = await runWorkload(name, ctx).catch((err) => ({ status: 'failed', reason: err?.stack ?? String(err), runs: [] }));
    results.workloads[name] = { ...r, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    if (r.status === 'failed') {
      failed++;
      log(`  ${name} FAILED: ${r.reason.split('\n').slice(0, 3).join(' | ')}`);
    } else if (r.status === 'skipped') log(`  ${name} skipped: ${r.reason}`);
  }
  return failed;
}

async function writeResults(results, opts, stamp) {
  const { markdown, ratios, targets, writeCharts } = await import('./lib/report.mjs');
  const { summarizeProfile } = await import('./lib/cpuprofile.mjs');
  results.ratios = ratios(results);
  results.targets = targets(results);
  if (opts.profile && existsSync(opts.profileDir)) {
    results.profiles = {};
    for (const sub of readdirSync(opts.profileDir)) {
      const files = readdirSync(path.join(opts.profileDir, sub)).filter((f) => f.endsWith('.cpuprofile'));
      results.profiles[sub] = files.map((f) => summarizeProfile(path.join(opts.profileDir, sub, f)));
    }
  }
  mkdirSync(opts.out, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(path.join(opts.out, `${stamp}.json`), json);
  writeFileSync(path.join(opts.out, 'latest.json'), json);
  const charts = writeCharts(results, opts.out);
  writeFileSync(path.join(opts.out, 'latest.md'), markdown(results, charts));
  log(`results: ${path.join(opts.out, 'latest.md')} (${Math.round(results.meta.durationS)} s)`);
  for (const t of results.targets) log(`  ${t.status.padEnd(12)} ${t.target}: ${t.measured}`);
  if (results.profiles) log(`profiles: ${opts.profileDir} (summaries in latest.json .profiles)`);
}

/** Re-renders the markdown and charts of a results file (after a report change, say). */
async function render(file) {
  const { readFileSync } = await import('node:fs');
  const { markdown, ratios, targets, writeCharts } = await import('./lib/report.mjs');
  const results = JSON.parse(readFileSync(file, 'utf8'));
  results.ratios = ratios(results);
  results.targets = targets(results);
  const dir = path.dirname(file);
  writeFileSync(path.join(dir, 'latest.md'), markdown(results, writeCharts(results, dir)));
  log(`rendered ${path.join(dir, 'latest.md')} from ${file}`);
}

async function main() {
  const { opts, workloads, values, problems } = parseOptions(process.argv.slice(2));
  if (values.help) return void console.log(USAGE);
  if (values.list) return void console.log(Object.entries(WORKLOADS).map(([k, v]) => `${k}\t${v}`).join('\n'));
  if (values.render) return render(path.resolve(values.render));
  if (problems.length) {
    console.error(`${problems.join('\n')}\n\n${USAGE}`);
    process.exit(2);
  }
  const { preflight } = await import('./lib/preflight.mjs');
  const tools = preflight({ opts, workloads, root: ROOT, log });
  // Imported after preflight so a missing dist/ gets a clear message, not a stack trace.
  const { installCleanup, pinningAvailable, stopAll } = await import('./lib/processes.mjs');
  const { startRedis } = await import('./lib/redis.mjs');
  const { BenchContext } = await import('./lib/context.mjs');

  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'malt-bench-'));
  mkdirSync(opts.dataDir, { recursive: true });
  if (opts.profile) opts.profileDir = path.join(opts.dataDir, 'profiles', stamp);
  let redis = null;
  let ctx = null;
  const cleanup = async () => {
    await ctx?.stopServers().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  };
  installCleanup(cleanup);

  const results = newResults(opts, tools, startedAt, pinningAvailable());
  let failed = 0;
  try {
    redis = await startRedis();
    results.meta.redisVersion = await redis.version();
    log(`redis-server ${results.meta.redisVersion} on ${redis.url} (pid ${redis.pid})`);
    ctx = new BenchContext({ opts, redis, tmpDir, tools, log });
    failed = await runWorkloads(ctx, workloads, results);
  } finally {
    results.setup = ctx?.setup ?? {};
    await cleanup();
  }
  results.meta.finishedAt = new Date().toISOString();
  results.meta.durationS = (Date.now() - startedAt.getTime()) / 1000;
  results.meta.machine.loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  await writeResults(results, opts, stamp);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
