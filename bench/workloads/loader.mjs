/**
 * `loader`: how fast `malt load` moves a table from the lake into Redis, and at what memory, set
 * against what its two halves cost alone, all in one run (issue 7, "Loader throughput"):
 *
 *   (a) decode alone     hyparquet reading every column of the same files (lib/loader-decode-child.mjs)
 *   (b) redis-cli --pipe the same HSET commands malt sends (same keys, fields and row bytes;
 *                        lib/loader-resp.mjs), into a fresh redis-server
 *   (a') decode alone, N threads: the same, split over N worker threads as `loader.workers: N`
 *                        splits a table (lib/loader-decode-parallel-child.mjs): the fair baseline of (c)
 *   (c) malt load        `node bin/malt.js load --force` of the Parquet files, fresh redis-server:
 *                        once with `loader.workers: 1` (one thread, pinned to one core, as before the
 *                        workers existed) and with the default (auto: N = min(cores, 4) worker threads);
 *                        also on a table of a quarter the rows, to show whether peak RSS grows with it,
 *                        and on the full table with V8's heap capped (HEAP_CAP_MIB), to show whether
 *                        what it retains is bounded (peak RSS alone also counts garbage not yet collected)
 *   (d) malt load        the same files as a Delta table (`source.format: delta`); reported as not
 *                        possible, with malt's error, if this build cannot load it
 *
 * Every process is its own, pinned to the server core (redis-server to the other one) except
 * the N-thread ones (decode alone with N threads, malt load with workers), which may use every core, and
 * measured for wall time, CPU time and peak RSS (lib/measured-process.mjs). Each Redis is
 * started for one measurement and stopped by PID after it. The table (lib/loader-table.mjs) is
 * written once per size and cached under --data-dir. Sizes: --rows (default 1 000 000; --quick 4 000).
 */
import { closeSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { AUTO_MIN_ROWS, usableCpus } from '../../dist/loaders/parallel-rows.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizeProfile } from '../lib/cpuprofile.mjs';
import { LOADER_DATASET, LOADER_KEY_PREFIX, ROW_GROUP_ROWS, loaderConfigDocument, loaderTable } from '../lib/loader-table.mjs';
import { loaderGoals, loaderRatios } from '../lib/loader-report.mjs';
import { runMeasured } from '../lib/measured-process.mjs';
import { SERVER_CORE, foreignLoad, round, sleep } from '../lib/processes.mjs';
import { startRedis } from '../lib/redis.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MALT_BIN = path.join(ROOT, 'bin', 'malt.js');
const DECODE_CHILD = path.join(ROOT, 'bench', 'lib', 'loader-decode-child.mjs');
const DECODE_PARALLEL_CHILD = path.join(ROOT, 'bench', 'lib', 'loader-decode-parallel-child.mjs');

/** The worker threads `loader.workers: 0` (auto) starts for a table (src/loaders/parallel-rows.ts loadWorkers). */
function autoWorkers(table) {
  const groups = Math.ceil(table.rows / ROW_GROUP_ROWS);
  const n = table.rows >= AUTO_MIN_ROWS ? Math.min(usableCpus(), 4, groups) : 0;
  return n >= 2 ? n : 0;
}

/** The environment without the variables that would override the config's Redis or prefix. */
function cleanEnv() {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k === 'REDIS_URL' || k.startsWith('MALT_')) delete env[k];
  return env;
}

/** The V8 old-space cap of the bounded-memory check (--max-old-space-size, MiB). */
const HEAP_CAP_MIB = 128;

/** Other processes' CPU (cores) under which the box counts as quiet enough to start a measurement. */
const QUIET = 0.3;

/**
 * Waits, bounded (10 s per measurement, ctx.loaderQuietBudgetS in all), for the rest of the box
 * to go quiet before a measurement; off with --no-wait-quiet and in --quick. Returns the wait.
 */
async function waitQuiet(ctx) {
  if (!ctx.opts.waitQuiet) return 0;
  ctx.loaderQuietBudgetS ??= 45;
  const t0 = performance.now();
  const waited = () => (performance.now() - t0) / 1000;
  while (waited() < 10 && ctx.loaderQuietBudgetS - waited() > 0) {
    if ((await foreignLoad([ctx.redis.pid])) < QUIET) break;
    await sleep(500);
  }
  ctx.loaderQuietBudgetS -= waited();
  return round(waited(), 1);
}

const rate = (rows, seconds) => (seconds > 0 ? Math.round(rows / seconds) : null);

function measurement(name, rows, out, seconds, extra = {}) {
  return {
    // otherCpu: cores used by other processes on the box meanwhile (it is shared); rows/CPU-s is
    // the figure they disturb least.
    name, status: 'ok', rows, seconds: round(seconds, 3), wallSeconds: out.wallSeconds, rowsPerSecond: rate(rows, seconds),
    cpuSeconds: out.cpuSeconds, rowsPerCpuSecond: rate(rows, out.cpuSeconds), peakRssMiB: out.peakRssMiB,
    redisCpu: out.cpu.redis ?? null, redisCpuSeconds: out.cpu.redis === undefined ? null : round(out.cpu.redis * out.wallSeconds, 2),
    otherCpu: out.cpu.foreign ?? null, ...extra,
  };
}

async function decodeAlone(ctx, table) {
  ctx.log(`    (a) hyparquet decode alone: ${table.rows.toLocaleString('en-US')} rows`);
  const out = await runMeasured(process.execPath, [DECODE_CHILD, table.parquetDir], { core: SERVER_CORE, cwd: ROOT });
  if (out.code !== 0) throw new Error(`decode child exited with ${out.code ?? out.signal}: ${out.stderr.slice(-1500)}`);
  const r = JSON.parse(out.stdout.trim().split('\n').pop());
  if (r.rows !== table.rows) throw new Error(`decode child read ${r.rows} rows, expected ${table.rows}`);
  return measurement('hyparquet decode alone', r.rows, out, r.seconds);
}

async function decodeParallel(ctx, table, threads) {
  ctx.log(`    (a') hyparquet decode alone, ${threads} threads: ${table.rows.toLocaleString('en-US')} rows`);
  const out = await runMeasured(process.execPath, [DECODE_PARALLEL_CHILD, table.parquetDir, String(threads)], { cwd: ROOT });
  if (out.code !== 0) throw new Error(`decode child exited with ${out.code ?? out.signal}: ${out.stderr.slice(-1500)}`);
  const r = JSON.parse(out.stdout.trim().split('\n').pop());
  if (r.rows !== table.rows) throw new Error(`decode child read ${r.rows} rows, expected ${table.rows}`);
  return measurement(`hyparquet decode alone, ${threads} threads`, r.rows, out, r.seconds, { threads });
}

async function redisPipe(ctx, table) {
  ctx.log(`    (b) redis-cli --pipe: ${table.rows.toLocaleString('en-US')} HSETs (${(table.resp.bytes / 2 ** 20).toFixed(1)} MiB)`);
  const redis = await startRedis();
  const fd = openSync(table.respFile, 'r');
  try {
    const out = await runMeasured('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), '--pipe'], { core: SERVER_CORE, stdin: fd, watch: { redis: redis.pid } });
    const m = /errors: (\d+), replies: (\d+)/.exec(out.stdout);
    if (out.code !== 0 || !m) throw new Error(`redis-cli --pipe exited with ${out.code ?? out.signal}: ${out.stdout.slice(-500)} ${out.stderr.slice(-500)}`);
    const [errors, replies] = [Number(m[1]), Number(m[2])];
    if (errors !== 0 || replies !== table.rows) throw new Error(`redis-cli --pipe: ${errors} errors, ${replies} replies for ${table.rows} commands`);
    return measurement('redis-cli --pipe (same HSETs)', table.rows, out, out.wallSeconds, { respBytes: table.resp.bytes, usedMemoryMiB: round((await redis.usedMemory()) / 2 ** 20, 1) });
  } finally {
    closeSync(fd);
    await redis.stop();
  }
}

/** What malt wrote, checked against the table: published row count and sampled value bytes. */
async function verifyLoad(redis, table) {
  const client = redis.client;
  const manifest = await client.hgetall(`${LOADER_KEY_PREFIX}:{${LOADER_DATASET}}:v:1`);
  let same = 0;
  for (const s of table.resp.samples) {
    const v = await client.hgetBuffer(s.key, s.field);
    if (v && v.toString('base64') === s.value) same++;
  }
  return {
    state: manifest.state ?? null, rows: Number(manifest.rows ?? NaN), buckets: Number(manifest.buckets ?? NaN), sameBytes: `${same}/${table.resp.samples.length}`,
    sourceFormat: manifest.source_format ?? null, sourceVersion: manifest.source_version ?? null,
  };
}

/** `malt load --force` in its own process on a fresh redis-server; `nodeArgs` e.g. --cpu-prof. */
async function maltLoad(ctx, table, { format, label, nodeArgs = [], workers = 0 }) {
  ctx.log(`    ${label}: ${table.rows.toLocaleString('en-US')} rows`);
  const redis = await startRedis();
  try {
    const cfg = path.join(ctx.tmpDir, `loader-${format}-${table.rows}.yaml`);
    // JSON is YAML: the config file is the document as JSON.
    writeFileSync(cfg, JSON.stringify({ ...loaderConfigDocument(table, { redisUrl: redis.url, format }), loader: { workers } }, null, 2));
    // Worker threads: the process may use every core (redis-server stays on its own).
    const threads = workers === 1 ? 0 : workers === 0 ? autoWorkers(table) : workers;
    const out = await runMeasured(process.execPath, [...nodeArgs, MALT_BIN, 'load', '-c', cfg, '--force'], {
      core: threads > 0 ? undefined : SERVER_CORE, cwd: ROOT, env: cleanEnv(), watch: { redis: redis.pid }, timeoutMs: 300_000,
    });
    if (out.code !== 0) {
      const reason = `${out.stderr}\n${out.stdout}`.split('\n').map((l) => l.trim()).filter((l) => l && !/^\[/.test(l)).slice(-3).join(' | ');
      return { name: label, status: 'not possible', exitCode: out.code, reason: reason || `exit ${out.code ?? out.signal}`, rows: table.rows };
    }
    // The CLI's own summary: "<seconds> s, <n> rows/s" (the load proper, without node's start-up).
    const m = /([\d.]+) s, ([\d,]+) rows\/s/.exec(out.stdout);
    const seconds = m ? Number(m[1]) : out.wallSeconds;
    const checks = await verifyLoad(redis, table);
    // A Delta load must have gone through the log (the version records the table version).
    if (format === 'delta' && checks.sourceVersion === null) throw new Error(`${label}: the version records no source_version: not read as a Delta table`);
    if (checks.rows !== table.rows || checks.state !== 'published') throw new Error(`${label}: published ${checks.rows} rows (state ${checks.state}), expected ${table.rows}`);
    return measurement(label, table.rows, out, seconds, { checks, workers: threads, usedMemoryMiB: round((await redis.usedMemory()) / 2 ** 20, 1) });
  } finally {
    await redis.stop();
  }
}

/** One `malt load` under --cpu-prof (the small table), summarised by self time. */
async function profileLoad(ctx, table) {
  const dir = path.join(ctx.opts.profileDir ?? path.join(ctx.tmpDir, 'profiles'), 'loader-malt-load');
  mkdirSync(dir, { recursive: true });
  const r = await maltLoad(ctx, table, { format: 'parquet', label: 'malt load under --cpu-prof', nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
  // One profile per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, the main thread's id 0.
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  const main = files.find((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)) ?? files[0];
  if (r.status !== 'ok' || main === undefined) return { status: r.status, reason: r.reason ?? 'no profile written' };
  const s = summarizeProfile(path.join(dir, main), 20);
  const workerFile = files.find((f) => f !== main);
  const w = workerFile === undefined ? null : summarizeProfile(path.join(dir, workerFile), 20);
  return {
    rows: table.rows, rowsPerSecond: r.rowsPerSecond, workers: r.workers ?? 0, file: s.file, busyMs: s.busyMs, areas: s.areas.slice(0, 10), functions: s.functions,
    worker: w === null ? null : { file: w.file, busyMs: w.busyMs, areas: w.areas.slice(0, 10), functions: w.functions },
  };
}

export async function loader(ctx) {
  const rows = ctx.opts.loaderRows;
  const smallRows = Math.max(1, Math.round(rows / 4));
  const big = loaderTable(ctx.opts.dataDir, rows, ctx.log);
  const small = loaderTable(ctx.opts.dataDir, smallRows, ctx.log);
  const m = [];
  const measure = async (fn) => {
    const quietWaitS = await waitQuiet(ctx);
    m.push({ ...(await fn()), quietWaitS });
  };
  const threads = Math.max(2, autoWorkers(big));
  await measure(() => decodeAlone(ctx, big));
  await measure(() => decodeParallel(ctx, big, threads));
  await measure(() => redisPipe(ctx, big));
  await measure(() => maltLoad(ctx, big, { format: 'parquet', label: 'malt load (Parquet, loader.workers 1)', workers: 1 }));
  await measure(() => maltLoad(ctx, big, { format: 'parquet', label: 'malt load (Parquet)' }));
  await measure(() => maltLoad(ctx, small, { format: 'parquet', label: `malt load (Parquet, ${smallRows.toLocaleString('en-US')} rows)` }));
  await measure(() => maltLoad(ctx, big, { format: 'delta', label: 'malt load (Delta)' }));
  await measure(() => maltLoad(ctx, big, { format: 'parquet', label: `malt load (Parquet, heap capped at ${HEAP_CAP_MIB} MiB)`, nodeArgs: [`--max-old-space-size=${HEAP_CAP_MIB}`] }));
  const profile = ctx.opts.profile ? await profileLoad(ctx, small) : null;
  const [decode, decodeN, pipe, parquetOne, parquet, parquetSmall, delta, capped] = m;
  const ratios = loaderRatios({ decode, decodeN, pipe, parquetOne, parquet, parquetSmall, delta });
  const tableInfo = (t) => ({ rows: t.rows, files: t.files.length, parquetMiB: round(t.parquetBytes / 2 ** 20, 1), respMiB: round(t.resp.bytes / 2 ** 20, 1),
    meanValueBytes: round(t.resp.valueBytes / t.rows, 1), buckets: t.resp.buckets, writeSeconds: t.writeSeconds, cached: t.cached });
  return {
    runs: [],
    loader: { rows, smallRows, tables: [tableInfo(big), tableInfo(small)], measurements: m, ratios, goals: loaderGoals({ parquet, parquetSmall, capped, ratios }), profile },
    checks: { parquetOne: parquetOne.checks ?? null, parquet: parquet.checks ?? null, parquetSmall: parquetSmall.checks ?? null, delta: delta.checks ?? null, capped: capped.checks ?? null },
  };
}
