/**
 * The tail-latency workload (bench/tails.mjs): malt's gRPC and HTTP against the gRPC floors, all
 * driven by the native open-loop generator (bench/loadgen) pinned to the client core, the servers
 * to the server core. Each point (a method at an offered rate, or closed-loop saturation) runs on
 * every server once per round; rounds rotate the server order, so no server always goes first or
 * always follows the same neighbour.
 */
import { parseGcTrace, perCall } from '../lib/gc-trace.mjs';
import { CLIENT_CORE, cpuSeconds, machineBusySeconds, round, runToEnd } from '../lib/processes.mjs';

/** One generator run against one server; returns the generator's JSON plus server-side numbers. */
export async function loadgenRun(ctx, server, point) {
  const { opts } = ctx;
  const target = point.transport === 'http' ? `http://127.0.0.1:${server.httpPort}/v1/entities/` : `127.0.0.1:${server.grpcPort}`;
  const args = [
    '-mode', point.transport, '-target', target, '-method', point.method, '-ids', point.ids.join(','),
    '-rate', String(point.rate), '-conns', String(opts.conns), '-concurrency', String(opts.concurrency),
    '-duration', `${point.durationS}s`, '-warmup', `${opts.warmupS}s`, '-timeout', '5s',
  ];
  await server.stats(); // resets the server's GC counters
  if (server.gcLines) server.gcLines.text = '';
  const cpu0 = cpuSeconds(server.pid);
  const redis0 = cpuSeconds(ctx.redis.pid) ?? 0;
  const busy0 = machineBusySeconds();
  const t0 = performance.now();
  const r = await runToEnd(ctx.loadgen.bin, args, { core: CLIENT_CORE, timeoutMs: (point.durationS + opts.warmupS + 30) * 1000 });
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = cpuSeconds(server.pid);
  const redisCpu = (cpuSeconds(ctx.redis.pid) ?? redis0) - redis0;
  const busy1 = machineBusySeconds();
  const stats = await server.stats();
  if (server.exitCode !== null) throw new Error(`${server.label} exited (${server.exitCode}) during the run:\n${server.stderr}`);
  if (r.code !== 0) throw new Error(`loadgen against ${server.label} exited ${r.code ?? r.signal}: ${r.stderr.slice(-1000)}`);
  const out = JSON.parse(r.stdout);
  const serverCpu = cpu1 - cpu0;
  const genCpu = r.cpuSeconds ?? out.generator.cpuSeconds;
  return {
    ...out,
    server: server.label,
    // Fractions of one core over the generator's whole life (connect + warm-up + run + drain).
    serverCpuFraction: round(serverCpu / wall),
    // Server CPU per answered call (warm-up calls included: they ran in the same process), the
    // number least disturbed by other work on the box.
    serverUsPerCall: round(serverCpu / Math.max(1, out.ok + Math.round(out.offeredRate * opts.warmupS)) * 1e6, 1),
    foreignCpuFraction: round(Math.max(0, busy1 - busy0 - serverCpu - genCpu - redisCpu) / wall),
    gc: stats?.gc ?? null,
    ...(server.gcLines ? { gcTrace: perCall(parseGcTrace(server.gcLines.text), out.ok + Math.round(out.offeredRate * opts.warmupS)) } : {}),
  };
}

/** The points of a run: single Get at each rate (gRPC and HTTP), BatchGet-100, saturation. */
export function tailPoints(ctx) {
  const { opts, ids } = ctx;
  const d = opts.durationS;
  const points = [];
  for (const rate of opts.rates) {
    points.push({ name: `get@${rate}`, transport: 'grpc', method: 'Get', ids: [ids.hot], rate, durationS: d, servers: ['raw', 'grpc-js', ...ctx.maltGrpc] });
    points.push({ name: `http-get@${rate}`, transport: 'http', method: 'Get', ids: [ids.hot], rate, durationS: d, servers: ctx.maltHttp });
  }
  points.push({ name: `batch100@${opts.batchRate}`, transport: 'grpc', method: 'BatchGet', ids: ids.batch, rate: opts.batchRate, durationS: d, servers: ['raw', 'grpc-js', ...ctx.maltGrpc] });
  if (opts.saturation) points.push({ name: 'get-saturation', transport: 'grpc', method: 'Get', ids: [ids.hot], rate: 0, durationS: opts.saturationS, servers: ['raw', 'grpc-js', ...ctx.maltGrpc] });
  // --points get@5000,get-saturation: only those (a quick A/B of one lever).
  return opts.points ? points.filter((p) => opts.points.includes(p.name)) : points;
}

/** Every point on every server, `opts.rounds` times; the HTTP rows share the gRPC points' rounds. */
export async function runTails(ctx) {
  const runs = [];
  const failed = [];
  const points = tailPoints(ctx);
  for (let r = 1; r <= ctx.opts.rounds; r++) {
    for (const point of points) {
      const order = point.servers.map((_, i) => point.servers[(i + r - 1) % point.servers.length]);
      for (const key of order) {
        const server = ctx.servers[key];
        let res;
        try {
          res = await loadgenRun(ctx, server, point);
        } catch (err) {
          // A generator that could not finish (e.g. killed at its time bound) is a failed run,
          // reported as such; a server that exited ends the suite.
          if (server.exitCode !== null) throw err;
          failed.push({ point: point.name, round: r, key, server: server.label, error: String(err.message).slice(0, 500) });
          ctx.log(`  round ${r} ${point.name.padEnd(16)} ${server.label.padEnd(24)} FAILED: ${String(err.message).split('\n')[0]}`);
          continue;
        }
        runs.push({ point: point.name, round: r, key, ...res });
        ctx.log(`  round ${r} ${point.name.padEnd(16)} ${server.label.padEnd(24)} ${fmtRun(res)}`);
      }
    }
  }
  return { runs, failed };
}

function fmtRun(r) {
  const l = r.latencyMs;
  return `${String(r.achievedRate).padStart(6)}/s  p50 ${l.p50} p99 ${l.p99} max ${l.max} ms  err ${r.errors}  gen cpu ${r.generator.cpuFraction}  srv cpu ${r.serverCpuFraction} (${r.serverUsPerCall} µs/call)  gc max ${r.gc?.maxMs ?? '?'} ms${r.gcTrace ? ` (${r.gcTrace.allocBytesPerCall} B/call, ${r.gcTrace.scavengesPerKCall} scav/1k)` : ''}  other ${r.foreignCpuFraction}`;
}
