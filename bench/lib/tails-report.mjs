/**
 * Summaries of a tails run (bench/tails.mjs): per point and server, the spread of p99 over rounds
 * (min / median / max), errors and the worst achieved rate; per round, malt's p99 over the floor's
 * (raw node:http2) and over malt HTTP's in the same round; saturation ratios; the issue's targets.
 */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null;
};
const r2 = (x) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 100) / 100);

export function summarise(runs) {
  const groups = new Map();
  for (const run of runs) {
    const k = `${run.point}|${run.key}`;
    if (!groups.has(k)) groups.set(k, { point: run.point, key: run.key, server: run.server, runs: [] });
    groups.get(k).runs.push(run);
  }
  return [...groups.values()].map((g) => {
    const p99 = g.runs.map((r) => r.latencyMs.p99);
    return {
      point: g.point, key: g.key, server: g.server, rounds: g.runs.length,
      offered: g.runs[0].offeredRate,
      achievedMin: Math.min(...g.runs.map((r) => r.achievedRate)),
      achievedMedian: median(g.runs.map((r) => r.achievedRate)),
      errors: g.runs.reduce((n, r) => n + r.errors, 0),
      p50Median: median(g.runs.map((r) => r.latencyMs.p50)),
      p99: { min: Math.min(...p99), median: median(p99), max: Math.max(...p99), each: p99 },
      p999Max: Math.max(...g.runs.map((r) => r.latencyMs.p999)),
      maxMs: Math.max(...g.runs.map((r) => r.latencyMs.max)),
      genCpuMax: Math.max(...g.runs.map((r) => r.generator.cpuFraction)),
      genSendLagP99Max: Math.max(...g.runs.map((r) => r.sendLagMs?.p99 ?? 0)),
      serverCpuMedian: median(g.runs.map((r) => r.serverCpuFraction)),
      serverUsPerCallMedian: median(g.runs.map((r) => r.serverUsPerCall)),
      gcMsPerKCallMedian: median(g.runs.map((r) => (r.gc ? Math.round((r.gc.totalMs / Math.max(1, r.ok)) * 1e4) / 10 : null))),
      gcMaxMs: Math.max(...g.runs.map((r) => r.gc?.maxMs ?? 0)),
      gcCountMedian: median(g.runs.map((r) => r.gc?.count ?? 0)),
      foreignMax: Math.max(...g.runs.map((r) => r.foreignCpuFraction)),
      ...(g.runs[0].gcTrace ? {
        gcTrace: {
          allocBytesPerCall: median(g.runs.map((r) => r.gcTrace.allocBytesPerCall)),
          scavengesPerKCall: median(g.runs.map((r) => r.gcTrace.scavengesPerKCall)),
          gcPauseUsPerCall: median(g.runs.map((r) => r.gcTrace.gcPauseUsPerCall)),
          scavengePauseMaxMs: Math.max(...g.runs.map((r) => r.gcTrace.scavengePauseMaxMs)),
          survivedBytesPerScavenge: median(g.runs.map((r) => r.gcTrace.survivedBytesPerScavenge)),
          majors: g.runs.reduce((n, r) => n + r.gcTrace.majors, 0),
        },
      } : {}),
    };
  });
}

/** Per round: p99(malt variant) / p99(baseline) in the same round of the same point. */
export function roundRatios(runs, maltKeys, baseKey, { point, basePoint = point }) {
  const out = {};
  for (const key of maltKeys) {
    const per = [];
    for (const r of runs.filter((x) => x.point === point && x.key === key)) {
      const b = runs.find((x) => x.point === basePoint && x.round === r.round && x.key === baseKey);
      if (b) per.push(r2(r.latencyMs.p99 / b.latencyMs.p99));
    }
    out[key] = { each: per, max: per.length ? Math.max(...per) : null, median: median(per) };
  }
  return out;
}

export function saturationRatios(summary, maltKeys) {
  const sat = summary.filter((s) => s.point === 'get-saturation');
  const raw = sat.find((s) => s.key === 'raw');
  if (!raw) return null;
  return Object.fromEntries(maltKeys.map((k) => [k, r2((sat.find((s) => s.key === k)?.achievedMedian ?? NaN) / raw.achievedMedian)]));
}

export function markdown(result) {
  const lines = [];
  const { summary, ratios, meta } = result;
  lines.push(`tails run ${meta.startedAt}: ${meta.rounds} rounds, ${meta.durationS} s per run after ${meta.warmupS} s warm-up, ${meta.conns} connections, node ${meta.nodeVersions.join(' / ')}, load before ${meta.loadBefore}`);
  lines.push('');
  lines.push('| point | server | achieved/s (min) | errors | p50 (median) | p99 min / median / max | p99.9 max | max | gen CPU max | server CPU | server µs/call | GC ms per 1k calls | GC max pause | other CPU max |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const s of summary) {
    lines.push(`| ${s.point} | ${s.server} | ${s.achievedMin} | ${s.errors} | ${s.p50Median} | ${s.p99.min} / ${s.p99.median} / ${s.p99.max} | ${s.p999Max} | ${s.maxMs} | ${s.genCpuMax} | ${s.serverCpuMedian} | ${s.serverUsPerCallMedian} | ${s.gcMsPerKCallMedian} | ${s.gcMaxMs} ms | ${s.foreignMax} |`);
  }
  if (summary.some((s) => s.gcTrace)) {
    lines.push('');
    lines.push('GC from --trace-gc-nvp (medians over rounds; warm-up calls counted in the per-call figures):');
    lines.push('');
    lines.push('| point | server | bytes allocated per call | scavenges per 1k calls | GC pause µs per call | longest scavenge | survived per scavenge | major GCs |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const s of summary.filter((x) => x.gcTrace)) {
      const g = s.gcTrace;
      lines.push(`| ${s.point} | ${s.server} | ${g.allocBytesPerCall} | ${g.scavengesPerKCall} | ${g.gcPauseUsPerCall} | ${g.scavengePauseMaxMs} ms | ${g.survivedBytesPerScavenge} | ${g.majors} |`);
    }
  }
  lines.push('');
  lines.push('p99 ratios per round (malt ÷ baseline, same round):');
  for (const [name, byKey] of Object.entries(ratios.perRound)) {
    for (const [key, v] of Object.entries(byKey)) lines.push(`- ${name}, ${key}: ${v.each.join(' / ')} (worst ${v.max})`);
  }
  for (const f of result.failed ?? []) lines.push(`- FAILED round ${f.round} ${f.point} ${f.server}: ${f.error.split('\n')[0]}`);
  if (ratios.saturation) lines.push(`- saturation (malt ÷ raw node:http2, median achieved): ${Object.entries(ratios.saturation).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
