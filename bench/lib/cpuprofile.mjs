/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per area (malt's
 * own code, fastify, grpc-js, ioredis, lru-cache, node internals, GC), to say where a server's
 * time goes without opening a profiler UI.
 */
import { readFileSync } from 'node:fs';

function area(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)' || name === '(program)' || name === '(root)') return name;
  if (!url) return 'native/builtin';
  if (url.includes('/dist/')) return 'malt (dist/)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

export function summarizeProfile(file, top = 25) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  const fns = new Map();
  const areas = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || '(anonymous)';
    const a = area(url, name);
    total += us;
    areas.set(a, (areas.get(a) ?? 0) + us);
    const key = `${name} ${url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busy = total - (areas.get('(idle)') ?? 0);
  const share = (us) => Math.round((us / busy) * 1000) / 10;
  return {
    file,
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round((areas.get('(idle)') ?? 0) / 1000),
    areas: [...areas.entries()].filter(([a]) => a !== '(idle)').sort((a, b) => b[1] - a[1]).map(([a, us]) => ({ area: a, pctOfBusy: share(us) })),
    functions: [...fns.entries()].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ fn, pctOfBusy: share(us) })),
  };
}

/** `node bench/lib/cpuprofile.mjs <file.cpuprofile> [top]` prints the summary. */
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()) && process.argv[2]) {
  const s = summarizeProfile(process.argv[2], Number(process.argv[3] ?? 30));
  console.log(`${s.file}: ${s.busyMs} ms busy, ${s.idleMs} ms idle`);
  for (const a of s.areas) console.log(`  ${String(a.pctOfBusy).padStart(5)}%  ${a.area}`);
  console.log('top functions (self time, % of busy):');
  for (const f of s.functions) console.log(`  ${String(f.pctOfBusy).padStart(5)}%  ${f.fn}`);
}
