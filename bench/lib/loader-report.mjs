/**
 * The loader workload's ratios, goals (issue 7: >= 300k rows/s, >= 0.7x decode-alone, peak RSS
 * bounded independently of table size) and its markdown table in latest.md.
 */
import { round } from './processes.mjs';

export const LOADER_GOAL_ROWS_PER_SECOND = 300_000;
export const LOADER_GOAL_DECODE_RATIO = 0.7;

const ratio = (a, b) => (a && b ? round(a / b, 2) : null);

/**
 * vsDecodeAlone: wall rows/s ÷ one-thread decode alone's; vsDecodeThreads: ÷ decode alone with
 * as many threads as the load's workers (the same cores: the ratio the 0.7× goal is judged on);
 * cpuVsDecodeAlone: rows per CPU-second ÷ decode alone's.
 */
export function loaderRatios({ decode, decodeN, pipe, parquetOne, parquet, parquetSmall, delta }) {
  const ok = (x) => x?.status === 'ok';
  const against = (x) => (ok(x) ? {
    vsDecodeAlone: ratio(x.rowsPerSecond, decode.rowsPerSecond), vsRedisPipe: ratio(x.rowsPerSecond, pipe.rowsPerSecond),
    vsDecodeThreads: x.workers > 0 && ok(decodeN) ? ratio(x.rowsPerSecond, decodeN.rowsPerSecond) : ratio(x.rowsPerSecond, decode.rowsPerSecond),
    cpuVsDecodeAlone: ratio(x.rowsPerCpuSecond, decode.rowsPerCpuSecond),
  } : null);
  return {
    parquetOne: against(parquetOne), parquet: against(parquet), delta: against(delta),
    workersVsOne: ok(parquet) && ok(parquetOne) ? ratio(parquet.rowsPerSecond, parquetOne.rowsPerSecond) : null,
    peakRssGrowth: ok(parquet) && ok(parquetSmall) ? ratio(parquet.peakRssMiB, parquetSmall.peakRssMiB) : null,
  };
}

/**
 * Bounded memory is judged on what a load retains, not on peak RSS alone (V8 lets the heap grow
 * while garbage accumulates): met when the full table loads with V8's heap capped within the
 * peak RSS the quarter table reached uncapped.
 */
export function loaderGoals({ parquet, parquetSmall, capped, ratios }) {
  if (parquet.status !== 'ok') return [];
  const status = (met) => (met ? 'met' : 'missed');
  return [
    { goal: `>= ${LOADER_GOAL_ROWS_PER_SECOND.toLocaleString('en-US')} rows/s (Parquet)`, measured: `${parquet.rowsPerSecond.toLocaleString('en-US')} rows/s`, status: status(parquet.rowsPerSecond >= LOADER_GOAL_ROWS_PER_SECOND) },
    {
      goal: `>= ${LOADER_GOAL_DECODE_RATIO}x decode-alone (same threads, wall)`,
      measured: `${ratios.parquet.vsDecodeThreads}x decode alone with ${parquet.workers || 1} thread(s) (${ratios.parquet.vsDecodeAlone}x one-thread decode; CPU-time ${ratios.parquet.cpuVsDecodeAlone}x)`,
      status: status(ratios.parquet.vsDecodeThreads >= LOADER_GOAL_DECODE_RATIO),
    },
    {
      goal: 'peak RSS bounded independently of table size',
      measured: `${parquetSmall.peakRssMiB} MiB at ${parquetSmall.rows.toLocaleString('en-US')} rows, ${parquet.peakRssMiB} MiB at ${parquet.rows.toLocaleString('en-US')} (${ratios.peakRssGrowth}x); `
        + (capped?.status === 'ok' ? `${capped.peakRssMiB} MiB at ${capped.rows.toLocaleString('en-US')} with the heap capped` : `heap-capped load failed: ${capped?.reason ?? 'not run'}`),
      status: status(capped?.status === 'ok' && parquetSmall.status === 'ok' && capped.peakRssMiB <= parquetSmall.peakRssMiB),
    },
  ];
}

const n = (x) => (x === null || x === undefined ? '–' : typeof x === 'number' ? x.toLocaleString('en-US') : String(x));
const pct = (x) => (x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`);

/** The markdown of one loader result (the `loader` field of the workload). */
export function loaderMarkdown(l) {
  // s: the work itself (malt's own load duration, the decode loop's, redis-cli's whole run); process s
  // adds node's start-up and (malt) config parsing. CPU s and peak RSS are the whole process's.
  const out = ['| measurement | rows | s | rows/s | process s | CPU s | rows/CPU-s | peak RSS MiB | redis-server CPU s | other CPU |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const m of l.measurements) {
    if (m.status !== 'ok') out.push(`| ${m.name} | ${n(m.rows)} | ${m.status}: ${String(m.reason).replace(/\|/g, '/')} | | | | | | | |`);
    else out.push(`| ${m.name}${m.workers > 0 ? ` [${m.workers} worker threads]` : ''} | ${n(m.rows)} | ${n(m.seconds)} | ${n(m.rowsPerSecond)} | ${n(m.wallSeconds)} | ${n(m.cpuSeconds)} | ${n(m.rowsPerCpuSecond)} | ${n(m.peakRssMiB)} | ${n(m.redisCpuSeconds ?? (m.redisCpu === null ? null : round(m.redisCpu * m.wallSeconds, 2)))} | ${pct(m.otherCpu)} |`);
  }
  const r = l.ratios;
  out.push('', 'other CPU: cores used meanwhile by other processes on the (shared) box; rows/CPU-s is the figure they disturb least.', '');
  if (r.parquetOne) out.push(`malt (Parquet, 1 thread) ÷ decode alone: **${r.parquetOne.vsDecodeAlone}×** (per CPU second ${r.parquetOne.cpuVsDecodeAlone}×).`);
  if (r.parquet) out.push(`malt (Parquet) ÷ decode alone: **${r.parquet.vsDecodeAlone}×** (per CPU second ${r.parquet.cpuVsDecodeAlone}×); ÷ decode alone with the same threads: **${r.parquet.vsDecodeThreads}×**; ÷ redis-cli --pipe: **${r.parquet.vsRedisPipe}×**.`);
  if (r.workersVsOne !== null && r.workersVsOne !== undefined) out.push(`malt (Parquet) with its default workers ÷ with \`loader.workers: 1\`: **${r.workersVsOne}×** wall rows/s.`);
  if (r.delta) out.push(`malt (Delta) ÷ decode alone: **${r.delta.vsDecodeAlone}×**; ÷ redis-cli --pipe: **${r.delta.vsRedisPipe}×**.`);
  if (r.peakRssGrowth !== null) out.push(`Peak RSS, full table ÷ quarter table: ${r.peakRssGrowth}×.`);
  if (l.goals.length) {
    out.push('', '| goal (issue 7) | measured | status |', '|---|---|---|');
    for (const g of l.goals) out.push(`| ${g.goal} | ${g.measured} | **${g.status}** |`);
  }
  if (l.profile?.functions) {
    out.push('', `CPU profile of malt load (${n(l.profile.rows)} rows, ${n(l.profile.busyMs)} ms busy). By area: ${l.profile.areas.map((a) => `${a.area} ${a.pctOfBusy}%`).join(', ')}. Top self time:`, '');
    for (const f of l.profile.functions.slice(0, 12)) out.push(`- ${f.pctOfBusy}% ${f.fn}`);
    const w = l.profile.worker;
    if (w) {
      out.push('', `One of its ${n(l.profile.workers)} worker threads (${n(w.busyMs)} ms busy). By area: ${w.areas.map((a) => `${a.area} ${a.pctOfBusy}%`).join(', ')}. Top self time:`, '');
      for (const f of w.functions.slice(0, 12)) out.push(`- ${f.pctOfBusy}% ${f.fn}`);
    }
  }
  return out.join('\n');
}
