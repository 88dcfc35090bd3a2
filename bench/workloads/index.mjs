/**
 * The workload registry: name → function(ctx) → {runs, checks, memory?}. A workload whose tool is
 * missing returns {status: 'skipped', reason}; the runner records it, never drops it silently.
 */
import { grpcBatch, grpcHit } from './grpc.mjs';
import { httpBatch } from './http-batch.mjs';
import { httpHit, httpRedis } from './http-single.mjs';
import { loader } from './loader.mjs';
import { redisBenchmark, redisMemory } from './redis-side.mjs';

const REGISTRY = {
  'http-hit': httpHit,
  'http-batch': httpBatch,
  'grpc-hit': grpcHit,
  'grpc-batch': grpcBatch,
  'http-redis': httpRedis,
  'redis-benchmark': redisBenchmark,
  'redis-memory': redisMemory,
  loader,
};

export async function runWorkload(name, ctx) {
  if (name === 'redis-benchmark' && !ctx.tools.redisBenchmark) {
    return { status: 'skipped', reason: 'redis-benchmark not found (apt-get install -y redis-tools)', runs: [] };
  }
  const r = await REGISTRY[name](ctx);
  return { status: 'ok', ...r };
}
