/**
 * HTTP batches (POST /v1/entities/batch) of 10 and 100 distinct Zipf players, cycling through a
 * fixed set of batches (200 of 10, 50 of 100). Baselines: bare fastify replaying malt's bytes
 * (it parses the JSON body, as malt does) and the naive fastify+ioredis handler (one HGETALL per
 * id, all issued at once).
 */
import { sweep } from './http-single.mjs';

export async function httpBatch(ctx) {
  const malt = await ctx.maltHit();
  const [fastify, naive] = await Promise.all([ctx.fastify(), ctx.naive('hit')]);
  const runs = [];
  for (const size of ctx.opts.batchSizes) {
    const requests = ctx.batches(size).map((ids) => ({ method: 'POST', path: '/v1/entities/batch', body: JSON.stringify({ entity_ids: ids }) }));
    runs.push(...await sweep(ctx, { servers: [malt, fastify, naive], rateServers: [malt, fastify], requests, rates: ctx.opts.rates[`batch${size}`], variant: `batch${size}` }));
  }
  return { runs, checks: { batches: Object.fromEntries(ctx.opts.batchSizes.map((s) => [`batch${s}`, ctx.batches(s).length])) } };
}
