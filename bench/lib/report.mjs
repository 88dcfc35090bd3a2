/**
 * Turns the runs into ratios (malt ÷ each baseline at saturation), the issue's targets marked
 * met / missed, a markdown report and SVG charts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { round } from './processes.mjs';
import { latencyChart } from './svg-chart.mjs';
import { loaderMarkdown } from './loader-report.mjs';

const MALT = /^malt/;
const isSat = (r) => r.mode === 'saturation' && !r.generatorCheck;

function satRun(results, workload, variant, server) {
  return results.workloads[workload]?.runs?.find((r) => isSat(r) && r.variant === variant && (server instanceof RegExp ? server.test(r.server) : r.server === server));
}

function rateRuns(results, workload, variant, server) {
  return (results.workloads[workload]?.runs ?? []).filter((r) => r.mode === 'rate' && r.variant === variant && (server instanceof RegExp ? server.test(r.server) : r.server === server));
}

export function ratios(results) {
  const out = [];
  const add = (workload, variant, baseline, note) => {
    const m = satRun(results, workload, variant, MALT);
    const b = satRun(results, workload, variant, baseline);
    if (!m || !b || !b.achievedRps) return;
    const cpuRatio = m.serverCpuUsPerRequest && b.serverCpuUsPerRequest ? round(b.serverCpuUsPerRequest / m.serverCpuUsPerRequest, 3) : null;
    out.push({ workload, variant, malt: m.achievedRps, baseline, baselineRps: b.achievedRps, ratio: round(m.achievedRps / b.achievedRps, 3), maltUsPerRequest: m.serverCpuUsPerRequest ?? null, baselineUsPerRequest: b.serverCpuUsPerRequest ?? null, cpuRatio, note });
  };
  for (const b of ['bare fastify', 'bare node:http', 'naive fastify+ioredis']) add('http-hit', 'single', b);
  add('http-redis', 'single', 'naive fastify+ioredis');
  add('grpc-hit', 'single', 'bare grpc-js');
  add('grpc-hit', 'single', 'bare grpc-js (pre-encoded)');
  for (const v of ['batch10', 'batch100']) {
    for (const b of ['bare fastify', 'naive fastify+ioredis']) add('http-batch', v, b);
    add('grpc-batch', v, 'bare grpc-js');
    add('grpc-batch', v, 'bare grpc-js (pre-encoded)');
  }
  const hget = results.workloads['redis-benchmark']?.runs?.find((r) => r.variant.startsWith('HGET '));
  const redisPath = satRun(results, 'http-redis', 'single', MALT);
  if (hget && redisPath) out.push({ workload: 'http-redis', variant: 'single', malt: redisPath.achievedRps, baseline: 'redis-benchmark HGET (50 clients)', baselineRps: hget.achievedRps, ratio: round(redisPath.achievedRps / hget.achievedRps, 3), note: 'share of the Redis ceiling for the same command' });
  return out;
}

const verdict = (ok) => (ok === null ? 'not measured' : ok ? 'met' : 'missed');

/** The p99 at `wanted` req/s offered, or at the highest rate the box sustained (≥ 95 % achieved). */
function p99At(results, workload, variant, wanted) {
  const runs = rateRuns(results, workload, variant, MALT).sort((a, b) => a.offeredRate - b.offeredRate);
  if (runs.length === 0) return null;
  const exact = runs.find((r) => r.offeredRate === wanted);
  const sustained = (r) => r.achievedRps >= 0.95 * r.offeredRate && !r.timeouts && !r.errors;
  if (exact && sustained(exact)) return { run: exact, note: `at ${wanted} req/s offered` };
  const best = runs.filter(sustained).pop();
  if (!best) return { run: exact ?? runs[0], note: 'no offered rate was sustained' };
  return { run: best, note: exact ? `${wanted} req/s was not sustained (achieved ${Math.round(exact.achievedRps)}); highest sustained rate: ${best.offeredRate} req/s` : `${wanted} req/s not offered in this run; highest rate: ${best.offeredRate} req/s` };
}

export function targets(results) {
  const rs = ratios(results);
  const ratio = (w, b) => rs.find((r) => r.workload === w && r.variant === 'single' && r.baseline === b);
  const t = [];
  const ratioTarget = (name, w, b, min) => {
    const r = ratio(w, b);
    t.push({ target: name, goal: `≥ ${min}×`, measured: r ? `${r.ratio}× (${Math.round(r.malt)} vs ${Math.round(r.baselineRps)} req/s)` : 'n/a', status: verdict(r ? r.ratio >= min : null) });
  };
  ratioTarget('HTTP single lookup, cache hit vs bare fastify', 'http-hit', 'bare fastify', 0.9);
  ratioTarget('HTTP single lookup, Redis path vs naive fastify+ioredis', 'http-redis', 'naive fastify+ioredis', 1.3);
  ratioTarget('gRPC single lookup vs bare grpc-js', 'grpc-hit', 'bare grpc-js', 0.9);
  const latencyTarget = (name, w, v, rate, maxMs) => {
    const at = p99At(results, w, v, rate);
    let status = 'not measured';
    if (at && at.run.offeredRate === rate && at.note.startsWith('at ')) status = at.run.latencyMs.p99 <= maxMs ? 'met' : 'missed';
    else if (at && at.note.startsWith(`${rate} req/s not offered`)) status = `not measured at ${rate} req/s`;
    else if (at) status = `not sustained at ${rate} req/s; ${at.run.latencyMs.p99 <= maxMs ? 'met' : 'missed'} at ${at.run.offeredRate} req/s`;
    const l = at?.run.latencyMs;
    const disturbed = at && at.run.cpu?.foreign > 0.15 ? `; disturbed: other processes used ${Math.round(at.run.cpu.foreign * 100)}% of a core` : '';
    const gcNote = at?.run.gc?.maxMs ? `; max GC pause ${at.run.gc.maxMs} ms` : '';
    t.push({ target: name, goal: `p99 ≤ ${maxMs} ms at ${rate} req/s`, measured: at ? `p99 ${l.p99} ms (p50 ${l.p50}, p99.9 ${l.p999}) ${at.note}${gcNote}${disturbed}` : 'n/a', status });
  };
  latencyTarget('HTTP single lookup latency (cache hit)', 'http-hit', 'single', 10_000, 1);
  latencyTarget('gRPC single lookup latency (cache hit)', 'grpc-hit', 'single', 10_000, 1);
  latencyTarget('HTTP single lookup latency (Redis path)', 'http-redis', 'single', 10_000, 1);
  latencyTarget('HTTP batch of 100 latency', 'http-batch', 'batch100', 500, 5);
  latencyTarget('gRPC batch of 100 latency', 'grpc-batch', 'batch100', 500, 5);
  const mem = results.workloads['redis-memory']?.memory?.[0];
  t.push({ target: 'Redis bytes per player-row vs Feast-style (feast-minimal)', goal: '≤ 1/3 (0.333)', measured: mem ? `${mem.maltToFeastMinimal} (${mem.maltBytesPerRow} vs ${mem.feastMinimalBytesPerRow} B/row; feast-like ${mem.feastLikeBytesPerRow} B/row → ${mem.maltToFeastLike})` : 'n/a', status: verdict(mem ? mem.maltToFeastMinimal <= 1 / 3 : null) });
  return t;
}

const fmt = (v, d = 3) => (v === null || v === undefined ? '–' : typeof v === 'number' ? String(round(v, d)) : String(v));
const pct = (v) => (v === null || v === undefined ? '–' : `${Math.round(v * 100)}%`);

function runTable(runs) {
  const lines = [
    '| variant | server | tool | mode | offered/s | achieved/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU | server µs/req | max GC pause ms | gen CPU | redis CPU | other CPU | cache hits |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of runs) {
    const l = r.latencyMs ?? {};
    const errs = (r.errors ?? 0) + (r.non2xx ?? 0) + (r.timeouts ?? 0);
    lines.push(`| ${r.variant} | ${r.server} | ${r.tool}${r.generatorCheck ? ' (check)' : ''}${r.repeatedBecauseNoisy ? ' ↻' : ''} | ${r.mode} | ${r.offeredRate ?? '–'} | ${fmt(r.achievedRps, 0)} | ${fmt(l.p50)} | ${fmt(l.p99)} | ${fmt(l.p999)} | ${errs} | ${pct(r.cpu?.server)} | ${fmt(r.serverCpuUsPerRequest, 1)} | ${r.gc ? `${fmt(r.gc.maxMs, 1)}${r.gc.major ? ` (${r.gc.major} major)` : ''}` : '–'} | ${pct(r.cpu?.generator)} | ${pct(r.cpu?.redis)} | ${pct(r.cpu?.foreign)} | ${r.cache ? pct(r.cache.hitRatio) : '–'} |`);
  }
  return lines.join('\n');
}

export function markdown(results, chartFiles) {
  const m = results.meta;
  const out = [`# malt bench results — ${m.startedAt}`, ''];
  out.push(`Commit: ${m.commit}`, '');
  out.push(`Command: \`${m.command}\` · ${m.quick ? 'quick mode · ' : ''}${round(m.durationS, 0)} s · node ${m.node} · redis ${m.redisVersion} · ${m.machine.cpus}× ${m.machine.cpuModel} · pinning: ${m.pinning}`);
  out.push('', `CPU columns are fractions of one core over each run's measured window; "other CPU" is everything on the machine that is not the server, the generator or redis-server (other users of the box). ↻: the first attempt was disturbed by other processes and the run was repeated. Latency in ms.`, '');
  const tg = results.targets;
  if (tg?.length) {
    out.push('## Targets (issue 3)', '', '| target | goal | measured | status |', '|---|---|---|---|');
    for (const t of tg) out.push(`| ${t.target} | ${t.goal} | ${t.measured} | **${t.status}** |`);
    out.push('');
  }
  if (results.ratios?.length) {
    out.push('## malt ÷ baseline (throughput at saturation)', '', 'ratio = malt req/s ÷ baseline req/s. CPU ratio = baseline server CPU µs per request ÷ malt\'s (the same comparison from CPU cost, which other processes on the box disturb less).', '');
    out.push('| workload | variant | malt req/s | baseline | baseline req/s | ratio | malt µs/req | baseline µs/req | CPU ratio |', '|---|---|---:|---|---:|---:|---:|---:|---:|');
    for (const r of results.ratios) out.push(`| ${r.workload} | ${r.variant} | ${fmt(r.malt, 0)} | ${r.baseline} | ${fmt(r.baselineRps, 0)} | ${r.ratio}× | ${fmt(r.maltUsPerRequest, 1)} | ${fmt(r.baselineUsPerRequest, 1)} | ${r.cpuRatio === null || r.cpuRatio === undefined ? '–' : `${r.cpuRatio}×`} |`);
    out.push('');
  }
  for (const [name, w] of Object.entries(results.workloads)) {
    out.push(`## ${name}`, '');
    if (w.status !== 'ok') {
      out.push(`${w.status}: ${w.reason ?? ''}`, '');
      continue;
    }
    if (w.runs.length) out.push(runTable(w.runs), '');
    if (w.memory) {
      out.push('| data | rows | malt B/row | feast-minimal B/row | feast-like B/row | malt ÷ feast-minimal | malt ÷ feast-like |', '|---|---:|---:|---:|---:|---:|---:|');
      for (const r of w.memory) out.push(`| ${r.set} | ${r.rows} | ${r.maltBytesPerRow} | ${r.feastMinimalBytesPerRow} | ${fmt(r.feastLikeBytesPerRow)} | ${r.maltToFeastMinimal} | ${fmt(r.maltToFeastLike)} |`);
      out.push('');
    }
    if (w.loader) out.push(loaderMarkdown(w.loader), '');
    if (w.checks) out.push(`Checks: \`${JSON.stringify(w.checks)}\``, '');
    for (const f of chartFiles.filter((c) => c.workload === name)) out.push(`![${name} ${f.variant}](${f.relPath})`, '');
  }
  return `${out.join('\n')}\n`;
}

/** Writes one SVG per workload × variant with rate runs; returns [{workload, variant, file, relPath}]. */
export function writeCharts(results, outDir) {
  const dir = path.join(outDir, 'charts');
  mkdirSync(dir, { recursive: true });
  const files = [];
  for (const [name, w] of Object.entries(results.workloads)) {
    const variants = [...new Set((w.runs ?? []).filter((r) => r.mode === 'rate').map((r) => r.variant))];
    for (const variant of variants) {
      const servers = [...new Set(w.runs.filter((r) => r.variant === variant && !r.generatorCheck).map((r) => r.server))];
      const series = servers.map((s) => {
        const sat = w.runs.find((r) => r.variant === variant && r.server === s && isSat(r));
        return {
          label: s,
          rate: w.runs.filter((r) => r.variant === variant && r.server === s && r.mode === 'rate').map((r) => ({ x: r.achievedRps, p50: r.latencyMs.p50, p99: r.latencyMs.p99, offered: r.offeredRate })),
          saturation: sat ? { x: sat.achievedRps, p50: sat.latencyMs.p50, p99: sat.latencyMs.p99 } : null,
        };
      });
      const tools = [...new Set(w.runs.filter((r) => r.variant === variant).map((r) => r.tool))].join(', ');
      const svg = latencyChart({ title: `${name} · ${variant}`, subtitle: `${results.meta.machine.cpus} cores, server pinned apart from the generator · ${tools}`, series });
      if (!svg) continue;
      const file = path.join(dir, `${name}-${variant}.svg`);
      writeFileSync(file, svg);
      files.push({ workload: name, variant, file, relPath: `charts/${name}-${variant}.svg` });
    }
  }
  return files;
}
