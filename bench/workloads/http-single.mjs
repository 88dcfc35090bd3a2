/**
 * HTTP single lookups (GET /v1/entities/:id).
 *   http-hit    Zipf(s) over the default lake, malt's default cache: mostly cache hits. Baselines:
 *               bare node:http and bare fastify replaying malt's exact bytes from memory, and the
 *               naive fastify+ioredis handler (HGETALL per request on the Feast-style copy).
 *   http-redis  uniform over the big lake with a cache far smaller than the set, so nearly every
 *               request goes to Redis. Baseline: the naive fastify+ioredis handler on the same data.
 */
import { autocannonSaturation, httpRate, httpSaturation } from '../lib/generators.mjs';
import { httpRequest } from '../lib/payloads.mjs';

const tag = (run, extra) => ({ transport: 'http', variant: 'single', ...run, ...extra });

/** Saturation for every server, then each fixed rate for the `rateServers`, interleaved. */
export async function sweep(ctx, { servers, rateServers, requests, rates, variant = 'single' }) {
  const runs = [];
  for (const s of servers) {
    ctx.log(`    ${variant} ${s.label}: saturation`);
    runs.push(tag(await httpSaturation(ctx, s, requests), { variant }));
  }
  for (const rate of rates) {
    for (const s of ctx.opts.rateOnlyMalt ? rateServers.slice(0, 1) : rateServers) {
      ctx.log(`    ${variant} ${s.label}: ${rate} req/s offered`);
      runs.push(tag(await httpRate(ctx, s, requests, rate), { variant }));
    }
  }
  return runs;
}

/** How many of `ids` the two servers answer with identical bytes. */
async function sameBytes(a, b, ids) {
  let same = 0;
  for (const id of ids) {
    const [x, y] = await Promise.all([httpRequest(undefined, a.httpPort, 'GET', `/v1/entities/${id}`), httpRequest(undefined, b.httpPort, 'GET', `/v1/entities/${id}`)]);
    if (x === y) same++;
  }
  return `${same}/${ids.length}`;
}

export async function httpHit(ctx) {
  const malt = await ctx.maltHit();
  const [nodeHttp, fastify, naive] = await Promise.all([ctx.nodeHttp(), ctx.fastify(), ctx.naive('hit')]);
  const requests = ctx.hitIds().map((id) => ({ method: 'GET', path: `/v1/entities/${id}` }));
  const sample = [...new Set(ctx.hitIds())].slice(0, 20);
  const checks = {
    sameBytesAsMalt: { 'bare node:http': await sameBytes(malt, nodeHttp, sample), 'bare fastify': await sameBytes(malt, fastify, sample), 'naive fastify+ioredis': await sameBytes(malt, naive, sample) },
    distinctPlayersInList: new Set(ctx.hitIds()).size, listLength: requests.length, zipfS: ctx.opts.zipfS,
  };
  const runs = await sweep(ctx, { servers: [malt, nodeHttp, fastify, naive], rateServers: [malt, fastify, nodeHttp], requests, rates: ctx.opts.rates.single });
  if (ctx.tools.wrk) {
    // The issue names autocannon; with wrk as the saturation generator, show what autocannon reaches.
    for (const s of [malt, nodeHttp]) {
      ctx.log(`    single ${s.label}: saturation with autocannon (generator cross-check)`);
      runs.push(tag(await autocannonSaturation(ctx, s, requests), { generatorCheck: true }));
    }
  }
  return { runs, checks };
}

export async function httpRedis(ctx) {
  const malt = await ctx.maltBig();
  const naive = await ctx.naive('big');
  const requests = ctx.bigIds().map((id) => ({ method: 'GET', path: `/v1/entities/${id}` }));
  const checks = {
    sameBytesAsMalt: { 'naive fastify+ioredis': await sameBytes(malt, naive, ctx.bigIds().slice(0, 20)) },
    players: ctx.opts.bigPlayers, cacheMaxBytes: ctx.opts.smallCacheBytes, listLength: requests.length,
  };
  const runs = await sweep(ctx, { servers: [malt, naive], rateServers: [malt, naive], requests, rates: ctx.opts.rates.single });
  return { runs, checks };
}
