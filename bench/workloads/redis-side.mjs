/**
 * The Redis side, on the same redis-server the other workloads use.
 *   redis-benchmark  the Redis ceiling for the commands behind each HTTP handler: HGET on malt's
 *                    bucket hash (malt's one read per miss), HGETALL on the Feast-style hash (the
 *                    naive baseline's read), and the stock GET test; 50 clients, no pipelining,
 *                    redis-benchmark pinned to the server core (idle then), redis-server to the other.
 *   redis-memory     bytes per player-row: used_memory (INFO memory) before and after writing each
 *                    layout of the same rows: malt's bucketed snapshot, "feast-minimal" and
 *                    "feast-like" hash-per-entity copies (bench/lib/feast-layout.mjs).
 */
import { feastKey, writeFeastLike } from '../lib/feast-layout.mjs';
import { SERVER_CORE, cpuMeter, round, runToEnd } from '../lib/processes.mjs';
import { settledUsedMemory } from '../lib/redis.mjs';

/**
 * malt's data keys for the loaded dataset, found with SCAN on the documented layout
 * ("P:d:D:V:B", docs and src/keys.ts) rather than through malt's internals, so the bench keeps
 * working while the layout module evolves.
 */
async function maltDataKeys(redis, keyPrefix, limit) {
  const found = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:d:*`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0' && found.length < limit);
  if (found.length === 0) throw new Error(`no malt data keys under ${keyPrefix}:d:*`);
  return found.slice(0, limit);
}

function parseCsv(stdout) {
  const rows = stdout.trim().split('\n').filter((l) => l.startsWith('"') && !l.startsWith('"test"'));
  return rows.map((l) => {
    const [test, rps, avg, min, p50, p95, p99, max] = l.split(',').map((x) => x.replace(/"/g, ''));
    return { test, rps: Number(rps), latencyMs: { mean: Number(avg), min: Number(min), p50: Number(p50), p95: Number(p95), p99: Number(p99), max: Number(max) } };
  });
}

export async function redisBenchmark(ctx) {
  const data = await ctx.hitData();
  const id = ctx.hotId();
  const [key] = await maltDataKeys(ctx.redis.client, data.keyPrefix, 1);
  const type = await ctx.redis.client.type(key);
  if (type !== 'hash') throw new Error(`malt data key ${key} is a ${type}; update the redis-benchmark workload's read command`);
  const field = await ctx.redis.client.hrandfield(key);
  const n = ctx.opts.quick ? 2000 : ctx.opts.redisBenchmarkRequests;
  const base = ['-h', '127.0.0.1', '-p', String(ctx.redis.port), '-c', '50', '-n', String(n), '--csv'];
  const cases = [
    { name: 'HGET malt bucket (malt read)', args: [...base, 'HGET', key, field] },
    { name: 'HGETALL feast hash (naive read)', args: [...base, 'HGETALL', `${data.feastPrefix}${id}`] },
    { name: 'GET (stock test)', args: [...base, '-t', 'get'] },
  ];
  const runs = [];
  for (const c of cases) {
    ctx.log(`    redis-benchmark ${c.name}`);
    const meter = cpuMeter({ redis: ctx.redis.pid });
    const out = await runToEnd('redis-benchmark', c.args, { core: SERVER_CORE, timeoutMs: 60_000 });
    const cpu = meter.stop({ generator: out.cpuSeconds });
    if (out.code !== 0) throw new Error(`redis-benchmark exited with ${out.code}: ${out.stderr}`);
    const [row] = parseCsv(out.stdout);
    if (!row) throw new Error(`cannot parse redis-benchmark output: ${out.stdout}`);
    runs.push({ transport: 'redis', variant: c.name, server: 'redis-server', tool: 'redis-benchmark', mode: 'saturation', connections: 50, requests: n, achievedRps: row.rps, latencyMs: row.latencyMs, cpu, command: `redis-benchmark ${c.args.join(' ')}` });
  }
  return { runs, checks: { maltKey: key, maltField: field, feastKey: `${data.feastPrefix}${id}` } };
}

async function encodings(redis, keys) {
  const out = {};
  for (const k of keys) {
    const e = await redis.object('ENCODING', k);
    out[e] = (out[e] ?? 0) + 1;
  }
  return out;
}

/** MEMORY USAGE of the keys ÷ the rows (hash fields, or keys for per-entity hashes) they hold. */
async function memoryUsagePerRow(redis, keys, rowsPerKey) {
  let bytes = 0;
  let rows = 0;
  for (const k of keys) {
    bytes += Number(await redis.memory('USAGE', k, 'SAMPLES', '0'));
    rows += rowsPerKey ? await redis.hlen(k) : 1;
  }
  return bytes / rows;
}

export async function redisMemory(ctx) {
  const data = await ctx.hitData();
  const redis = ctx.redis.client;
  const m0 = await settledUsedMemory(ctx.redis);
  const like = await writeFeastLike(redis, data.tableDir, data.keyColumn, data.columns, 'benchhit');
  const feastLikeBytes = (await settledUsedMemory(ctx.redis)) - m0;
  const sampleBuckets = await maltDataKeys(redis, data.keyPrefix, 50);
  const sampleIds = [...new Set(ctx.hitIds())].slice(0, 200);
  const valueLengths = [];
  for (const b of sampleBuckets.slice(0, 10)) for (const v of Object.values(await redis.hgetallBuffer(b))) valueLengths.push(v.length);
  const [listpackValue, listpackEntries] = [await redis.config('GET', 'hash-max-listpack-value'), await redis.config('GET', 'hash-max-listpack-entries')];
  const sets = [{ name: `${data.players} players`, setup: ctx.setup.hit, feastLikeBytes, feastLikeEntities: like.entities }];
  if (ctx.setup.big) sets.push({ name: `${ctx.setup.big.players} players`, setup: ctx.setup.big });
  const rows = sets.map((s) => {
    const malt = s.setup.memory.maltBytes / s.setup.rows;
    const minimal = s.setup.memory.feastMinimalBytes / s.setup.memory.feastEntities;
    const likeRow = s.feastLikeBytes ? s.feastLikeBytes / s.feastLikeEntities : null;
    return {
      set: s.name, rows: s.setup.rows, maltBytesPerRow: round(malt, 1), feastMinimalBytesPerRow: round(minimal, 1), feastLikeBytesPerRow: round(likeRow, 1),
      maltToFeastMinimal: round(malt / minimal, 3), maltToFeastLike: likeRow ? round(malt / likeRow, 3) : null,
    };
  });
  const feastMinimalKeys = sampleIds.map((id) => `${data.feastPrefix}${id}`);
  const feastLikeKeys = sampleIds.map((id) => feastKey(data.keyColumn, id, 'benchhit'));
  const checks = {
    method: 'INFO memory used_memory delta around each write, same redis-server, nothing else writing',
    maltKeyEncodings: await encodings(redis, sampleBuckets),
    feastMinimalEncodings: await encodings(redis, feastMinimalKeys.slice(0, 50)),
    feastLikeEncodings: await encodings(redis, feastLikeKeys.slice(0, 50)),
    memoryUsageCrossCheck: {
      maltPerRow: round(await memoryUsagePerRow(redis, sampleBuckets, true), 1),
      feastMinimalPerRow: round(await memoryUsagePerRow(redis, feastMinimalKeys, false), 1),
      feastLikePerRow: round(await memoryUsagePerRow(redis, feastLikeKeys, false), 1),
    },
    maltValueBytes: { mean: round(valueLengths.reduce((a, b) => a + b, 0) / valueLengths.length, 1), max: Math.max(...valueLengths), over64: valueLengths.filter((l) => l > 64).length, sampled: valueLengths.length },
    redisConfig: { 'hash-max-listpack-value': listpackValue[1], 'hash-max-listpack-entries': listpackEntries[1] },
  };
  return { runs: [], memory: rows, checks };
}
