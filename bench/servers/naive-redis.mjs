/**
 * The naive fastify + ioredis baseline: one HGETALL per entity against the Feast-style
 * hash-per-entity copy (bench/lib/feast-layout.mjs, "feast-minimal"), values typed from their
 * strings, the same JSON shape as malt, serialised by fastify's default JSON.stringify. ioredis
 * with its default options (no auto-pipelining); no cache. Batches: one HGETALL per id, issued
 * together (Promise.all). argv[2]: JSON {redisUrl, feastPrefix, dataset, version, columns, defaults}.
 */
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { runServer } from './lifecycle.mjs';

const opts = JSON.parse(process.argv[2]);
const KEY_PREFIX = opts.feastPrefix;
const columns = opts.columns;

function typed(type, s) {
  switch (type) {
    case 'double': return Number(s);
    case 'int64': return s;
    case 'bool': return s === 'true';
    case 'timestamp': return new Date(Math.floor(Number(s) / 1000)).toISOString();
    case 'string_list': return JSON.parse(s);
    default: return s;
  }
}

function result(id, hash) {
  const found = Object.keys(hash).length > 0;
  const features = {};
  for (const c of columns) {
    const raw = hash[c.name];
    const def = opts.defaults[c.name];
    if (raw !== undefined) features[c.name] = { value: typed(c.type, raw), status: 'PRESENT' };
    else if (def !== undefined) features[c.name] = { value: def, status: 'DEFAULTED' };
    else features[c.name] = { value: null, status: found ? 'NULL_VALUE' : 'NOT_FOUND' };
  }
  return { entity_id: id, datasets: [{ dataset: opts.dataset, version: opts.version, found, features }] };
}

let app;
let redis;
await runServer({
  async start() {
    redis = new Redis(opts.redisUrl);
    app = Fastify({ logger: false });
    app.get('/v1/entities/:id', async (req) => result(req.params.id, await redis.hgetall(KEY_PREFIX + req.params.id)));
    app.post('/v1/entities/batch', async (req) => {
      const ids = req.body.entity_ids;
      const hashes = await Promise.all(ids.map((id) => redis.hgetall(KEY_PREFIX + id)));
      return { results: ids.map((id, i) => result(id, hashes[i])) };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { httpPort: app.server.address().port };
  },
  async close() {
    await app?.close();
    redis?.disconnect();
  },
});
