#!/usr/bin/env node
/**
 * Nanoseconds per recording call on the request path, in isolation (complements
 * bench/telemetry-overhead.mjs, whose end-to-end CPU A/B is noisy on a shared box): malt's
 * pre-bound HTTP-route and gRPC-method children, and prom-client's own Histogram with the same
 * buckets (bound child and labels object per call) for comparison. Each measured in 5 rounds of
 * 2 000 000 calls after a warm-up; prints the median and the spread.
 *
 *   npm run build && node bench/telemetry-recording.mjs [--dist dist]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Histogram, Registry } from 'prom-client';

const { values: a } = parseArgs({ options: { dist: { type: 'string', default: 'dist' } } });
const dist = pathToFileURL(`${path.resolve(a.dist)}/`).href;
const { HttpRouteMetrics, GrpcMethodMetrics } = await import(new URL('telemetry/metrics.js', dist).href);
const { LATENCY_BUCKETS } = await import(new URL('telemetry/metric-families.js', dist).href);

const N = 2_000_000;
const route = new HttpRouteMetrics('GET', '/bench/entities/:id');
const method = new GrpcMethodMetrics('BenchGet', (c) => String(c));
const prom = new Histogram({ name: 'bench_prom_client_seconds', help: 'x', labelNames: ['method', 'route', 'status'], buckets: LATENCY_BUCKETS, registers: [new Registry()] });
const promChild = prom.labels('GET', '/bench/entities/:id', '200');

let sink = 0;
const cases = {
  'empty loop (baseline)': (i) => { sink += i & 1; },
  'malt HTTP route record(status, seconds)': (i) => route.record(200, 0.00002 + (i & 7) * 1e-6),
  'malt gRPC method record(code, start) (includes performance.now())': () => method.record(0, performance.now()),
  'prom-client child.observe(seconds)': (i) => promChild.observe(0.00002 + (i & 7) * 1e-6),
  'prom-client observe({labels}, seconds)': (i) => prom.observe({ method: 'GET', route: '/bench/entities/:id', status: '200' }, 0.00002 + (i & 7) * 1e-6),
};

const out = {};
for (const [name, fn] of Object.entries(cases)) {
  for (let i = 0; i < N; i++) fn(i); // warm-up
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(i);
    rounds.push(Number(process.hrtime.bigint() - t0) / N);
  }
  rounds.sort((x, y) => x - y);
  out[name] = { median_ns: Number(rounds[2].toFixed(1)), min_ns: Number(rounds[0].toFixed(1)), max_ns: Number(rounds[4].toFixed(1)) };
  console.error(`${name}: ${rounds[2].toFixed(1)} ns (${rounds[0].toFixed(1)}–${rounds[4].toFixed(1)})`);
}
console.log(JSON.stringify({ ...out, sink }, null, 2));
