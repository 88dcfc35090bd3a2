/**
 * One measured run = one load generator process (pinned to the client core) against one server,
 * with the CPU of the server, the generator, redis-server and everything else on the machine
 * sampled over the run's measured window. Generators:
 *   HTTP saturation   wrk (1 thread) with a Lua request list; autocannon when wrk is missing
 *                     or in --quick (gen/autocannon-child.mjs)
 *   HTTP fixed rate   open-loop generator (gen/http-open-loop.mjs)
 *   gRPC saturation   h2load with a pre-encoded request; gen/grpc-node.mjs when h2load is missing
 *                     or in --quick
 *   gRPC fixed rate   open-loop node:http2 generator (gen/grpc-node.mjs)
 * Every run returns the same fields: tool, mode, offeredRate, achievedRps, latencyMs, errors, cpu…
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize } from './latency.mjs';
import { parseWrkOutput, writeWrkScript } from './wrk-script.mjs';
import { CLIENT_CORE, cpuMeter, foreignLoad, round, runToEnd, sleep } from './processes.mjs';

const gen = (name) => fileURLToPath(new URL(`./gen/${name}`, import.meta.url));
let specSeq = 0;

function specFile(ctx, spec) {
  const file = path.join(ctx.tmpDir, `spec-${process.pid}-${specSeq++}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

/** Lines a generator prints when its measured window starts and ends (h2load's own, or ours). */
const WINDOW_START = /^(BENCH-MEASURE-START|Main benchmark duration is started)/;
const WINDOW_END = /^(BENCH-MEASURE-END|Main benchmark duration is over)/;

/**
 * Runs `cmd args` pinned to the client core; CPU of the server, the generator, redis-server and
 * the rest of the machine is sampled over the generator's measured window (from its start/end
 * lines; over its whole life if it prints none, as wrk). Returns the parsed run.
 */
async function measured(ctx, server, cmd, args, parse, boundS) {
  const quietWaitS = await waitForQuiet(ctx, server);
  let run = await measuredOnce(ctx, server, cmd, args, parse, boundS);
  // A run during which other processes took a real share of the CPU is repeated once.
  if (ctx.opts.retryNoisy && run.cpu.foreign > NOISY && ctx.noiseBudget.retries > 0) {
    ctx.noiseBudget.retries--;
    ctx.log(`      other processes used ${Math.round(run.cpu.foreign * 100)}% of a core during that run; repeating it`);
    await waitForQuiet(ctx, server);
    run = { ...(await measuredOnce(ctx, server, cmd, args, parse, boundS)), repeatedBecauseNoisy: true };
  }
  return quietWaitS ? { ...run, quietWaitS } : run;
}

/** Other processes' CPU share (of one core) above which a run counts as disturbed. */
const NOISY = 0.15;

/** Waits (bounded per run and per suite) until the rest of the machine is near idle. */
async function waitForQuiet(ctx, server) {
  if (!ctx.opts.waitQuiet) return 0;
  const t0 = performance.now();
  const ours = [server.pid, ctx.redis.pid];
  let warned = false;
  while ((performance.now() - t0) / 1000 < 20 && ctx.noiseBudget.waitS > 0) {
    const load = await foreignLoad(ours);
    if (load < NOISY) break;
    if (!warned) ctx.log(`      other processes are using ${Math.round(load * 100)}% of a core; waiting for the machine to quieten (up to 20 s)`);
    warned = true;
    await sleep(700);
    ctx.noiseBudget.waitS -= 1;
  }
  return round((performance.now() - t0) / 1000, 1) >= 1 ? round((performance.now() - t0) / 1000, 1) : 0;
}

async function measuredOnce(ctx, server, cmd, args, parse, boundS) {
  const statsBefore = await server.stats(); // also resets the server's GC pause counters
  let meter = null;
  let cpu = null;
  const begin = (child) => { meter = cpuMeter({ server: server.pid, generator: child.pid, redis: ctx.redis.pid }); };
  const onLine = (line, child) => {
    if (WINDOW_START.test(line)) begin(child);
    else if (WINDOW_END.test(line) && meter) cpu = meter.stop();
  };
  const wholeLife = cpuMeter({ server: server.pid, redis: ctx.redis.pid });
  const out = await runToEnd(cmd, args, { core: CLIENT_CORE, timeoutMs: (boundS + 30) * 1000, onLine });
  cpu ??= wholeLife.stop({ generator: out.cpuSeconds });
  if (out.code !== 0) throw new Error(`${path.basename(cmd)} ${path.basename(args[0] ?? '')} exited with ${out.code ?? out.signal}: ${out.stderr.slice(-1500)}`);
  const result = parse(out);
  const statsAfter = await server.stats();
  const run = { server: server.label, ...result, achievedRps: round(result.achievedRps, 1), bytesPerResponse: round(result.bytesPerResponse, 1), cpu };
  // CPU time the server spent per answered request: less sensitive to a noisy box than req/s.
  if (cpu.server && result.requests) run.serverCpuUsPerRequest = round((cpu.server * result.durationS * 1e6) / result.requests, 1);
  // GC pauses in the server over the whole run (warm-up included).
  if (statsAfter?.gc) run.gc = statsAfter.gc;
  if (statsBefore?.cache && statsAfter?.cache) {
    const hits = statsAfter.cache.hits - statsBefore.cache.hits;
    const misses = statsAfter.cache.misses - statsBefore.cache.misses;
    const shared = statsAfter.cache.sharedMisses - statsBefore.cache.sharedMisses;
    run.cache = { hitRatio: round(hits / Math.max(1, hits + misses + shared), 4), entries: statsAfter.cache.entries, bytes: statsAfter.cache.bytes };
  }
  return run;
}

const nodeJson = (out) => JSON.parse(out.stdout.trim().split('\n').pop());

/**
 * Closed-loop HTTP saturation: wrk when it is installed (a C generator; one autocannon process
 * tops out below what a bare node:http server on the other core can serve), else autocannon.
 * `requests`: [{method, path, body?}].
 */
export function httpSaturation(ctx, server, requests, opts = {}) {
  return ctx.tools.wrk ? wrkSaturation(ctx, server, requests, opts) : autocannonSaturation(ctx, server, requests, opts);
}

/** Closed-loop HTTP saturation with autocannon (in its own process). */
export function autocannonSaturation(ctx, server, requests, { connections = ctx.opts.connections } = {}) {
  const spec = { url: `http://127.0.0.1:${server.httpPort}`, requests, connections, durationS: ctx.opts.duration, warmupS: ctx.opts.warmup, amount: ctx.opts.quick ? ctx.opts.quickAmount : undefined };
  return measured(ctx, server, process.execPath, [gen('autocannon-child.mjs'), specFile(ctx, spec)], nodeJson, spec.durationS + spec.warmupS);
}

/** Open-loop HTTP at a fixed offered rate. */
export function httpRate(ctx, server, requests, rate, { connections = 64 } = {}) {
  const spec = { host: '127.0.0.1', port: server.httpPort, requests, rate, durationS: ctx.opts.rateDuration, warmupS: ctx.opts.rateWarmup, connections: Math.min(connections, Math.max(4, Math.ceil(rate / 100))) };
  return measured(ctx, server, process.execPath, [gen('http-open-loop.mjs'), specFile(ctx, spec)], nodeJson, spec.durationS + spec.warmupS);
}

/**
 * gRPC saturation (mode 'saturation'): h2load when installed (a C client; node:http2 clients run
 * out of CPU first on 2 cores), else the node:http2 generator. Fixed rates (mode 'rate'): always
 * the node:http2 open-loop generator, because h2load's --rps mode adds about half a millisecond
 * at low rates (measured against a bare grpc-js server at 1k req/s: h2load p50 0.74 ms, the node
 * generator 0.27 ms), which would swamp a 1 ms p99 target.
 */
export function grpcRun(ctx, server, method, frames, { mode, rate }) {
  const grpcPath = `/malt.v1.Serving/${method}`;
  const durationS = mode === 'rate' ? ctx.opts.rateDuration : ctx.opts.duration;
  const warmupS = mode === 'rate' ? ctx.opts.rateWarmup : ctx.opts.warmup;
  if (ctx.tools.h2load && mode === 'saturation') return h2loadRun(ctx, server, grpcPath, frames[0], { durationS, warmupS });
  const spec = {
    host: '127.0.0.1', port: server.grpcPort, path: grpcPath, bodies: frames.map((f) => f.toString('base64')), mode, rate,
    connections: mode === 'rate' ? 8 : 4, streams: 16, durationS, warmupS,
  };
  return measured(ctx, server, process.execPath, [gen('grpc-node.mjs'), specFile(ctx, spec)], nodeJson, durationS + warmupS);
}

/**
 * h2load sends one pre-encoded body (so one hot key for Get, one fixed batch for BatchGet):
 * 4 connections × 32 streams, measured over the main duration after --warm-up-time; percentiles
 * come from its per-request --log-file (microseconds).
 */
function h2loadRun(ctx, server, grpcPath, frame, { durationS, warmupS }) {
  const bodyFile = path.join(ctx.tmpDir, `grpc-body-${specSeq++}.bin`);
  writeFileSync(bodyFile, frame);
  const logFile = path.join(ctx.tmpDir, `h2load-${specSeq++}.log`);
  const clients = 4;
  const streams = 32;
  const args = ['-t', '1', '-c', String(clients), '-m', String(streams), '-D', `${Math.round(durationS * 1000)}ms`,
    '--warm-up-time', `${Math.max(1, Math.round(warmupS * 1000))}ms`, '--log-file', logFile,
    '-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d', bodyFile,
    `http://127.0.0.1:${server.grpcPort}${grpcPath}`];
  const parse = (out) => {
    const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out.stdout);
    const data = /traffic: .*?\((\d+)\) total.*?\((\d+)\) headers.*?\((\d+)\) data/.exec(out.stdout);
    if (!m) throw new Error(`cannot parse h2load output:\n${out.stdout}\n${out.stderr}`);
    const lines = readFileSync(logFile, 'utf8').split('\n');
    const ok = [];
    let non2xx = 0;
    let cut = 0;
    for (const line of lines) {
      if (!line) continue;
      const [, status, us] = line.split('\t');
      if (status === '200') ok.push(Number(us) / 1000);
      else if (status === '0') cut++; // still in flight when the duration ended
      else non2xx++;
    }
    const succeeded = Number(m[4]);
    return {
      tool: 'h2load', mode: 'saturation', offeredRate: null, connections: clients, streams, durationS,
      requests: ok.length, achievedRps: ok.length / durationS, cutAtEnd: cut,
      errors: Number(m[5]) + Number(m[6]), timeouts: Number(m[7]), non2xx,
      bytesPerResponse: data && succeeded ? Number(data[3]) / succeeded : null, latencyMs: summarize(Float64Array.from(ok)),
    };
  };
  return measured(ctx, server, 'h2load', args, parse, durationS + warmupS);
}

/**
 * Closed-loop HTTP saturation with wrk (one thread): the request list is pre-formatted once in
 * the Lua init and cycled from a random start; p99.9 comes from its done() hook.
 */
export function wrkSaturation(ctx, server, requests, { connections = ctx.opts.connections } = {}) {
  const script = writeWrkScript(ctx.tmpDir, requests);
  // wrk takes whole seconds and has no warm-up of its own: warm up with a separate, unmeasured run.
  const durationS = Math.max(1, Math.round(ctx.opts.duration));
  const base = ['-t', '1', '-c', String(connections), '-s', script, `http://127.0.0.1:${server.httpPort}`];
  const args = ['-d', `${durationS}s`, ...base];
  const parse = (out) => {
    const j = parseWrkOutput(out);
    const secs = j.us / 1e6;
    const ok = j.requests - j.non2xx;
    return {
      tool: 'wrk', mode: 'saturation', offeredRate: null, connections, durationS: round(secs, 2), requests: ok, achievedRps: ok / secs,
      errors: j.errors, timeouts: j.timeouts, non2xx: j.non2xx, bytesPerResponse: j.requests ? j.bytes / j.requests : null,
      latencyMs: { count: ok, p50: round(j.p50, 4), p90: round(j.p90, 4), p99: round(j.p99, 4), p999: round(j.p999, 4), max: round(j.max, 4), mean: round(j.mean, 4) },
    };
  };
  const warm = ctx.opts.warmup > 0 ? runToEnd('wrk', ['-d', `${Math.max(1, Math.round(ctx.opts.warmup))}s`, ...base], { core: CLIENT_CORE, timeoutMs: 60_000 }) : Promise.resolve();
  return warm.then(() => measured(ctx, server, 'wrk', args, parse, durationS));
}
