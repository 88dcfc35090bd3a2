/**
 * What every bench server process shares: it is started by bench/run.mjs with an IPC channel,
 * reports {type: 'ready', ...ports} once listening, answers {type: 'stats'} requests (its own
 * counters plus garbage-collection pauses since the previous request), and exits on SIGTERM
 * (after closing) or as soon as its parent goes away, so nothing outlives the bench.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';

/** GC pauses since the last stats request: p99 tails on a 1-core pin are often major GCs. */
const gc = { count: 0, totalMs: 0, maxMs: 0, major: 0, majorMaxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
    if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.major++;
      gc.majorMaxMs = Math.max(gc.majorMaxMs, e.duration);
    }
  }
}).observe({ entryTypes: ['gc'] });

function takeGcStats() {
  const out = { ...gc, totalMs: Math.round(gc.totalMs * 10) / 10, maxMs: Math.round(gc.maxMs * 10) / 10, majorMaxMs: Math.round(gc.majorMaxMs * 10) / 10 };
  Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0, major: 0, majorMaxMs: 0 });
  return out;
}

export async function runServer({ start, stats = () => ({}), close = async () => undefined }) {
  let closing = false;
  const shutdown = (code) => {
    if (closing) return;
    closing = true;
    const force = setTimeout(() => process.exit(code), 3000);
    force.unref();
    Promise.resolve(close()).catch(() => undefined).finally(() => process.exit(code));
  };
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  process.on('disconnect', () => shutdown(0));
  process.on('message', (m) => {
    if (m?.type === 'stats') process.send?.({ type: 'stats', id: m.id, stats: { ...stats(), gc: takeGcStats(), rss: process.memoryUsage().rss } });
    if (m?.type === 'stop') shutdown(0);
  });
  try {
    const ready = await start();
    process.send?.({ type: 'ready', ...ready });
  } catch (err) {
    process.send?.({ type: 'error', message: err?.stack ?? String(err) });
    shutdown(1);
  }
}

export const JSON_TYPE = 'application/json; charset=utf-8';
