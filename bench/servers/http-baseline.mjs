/**
 * The "same bytes from memory" HTTP baselines: bare node:http and bare fastify, on the same
 * routes as malt, answering each request with the exact body malt returned for it (fetched from
 * malt by the runner before the run). argv[2]: node-http | fastify; argv[3]: payload file
 * ({single: {id: body}, batch: {"id,id,...": body}}).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Fastify from 'fastify';
import { JSON_TYPE, runServer } from './lifecycle.mjs';

const kind = process.argv[2];
const payloads = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const single = new Map(Object.entries(payloads.single ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
const batch = new Map(Object.entries(payloads.batch ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
const NOT_FOUND = Buffer.from('{"error":{"code":"BENCH_NO_PAYLOAD","message":"no payload recorded for this request"}}');
const PREFIX = '/v1/entities/';

function nodeHttp() {
  return http.createServer((req, res) => {
    if (req.method === 'GET' && req.url.startsWith(PREFIX)) {
      const body = single.get(decodeURIComponent(req.url.slice(PREFIX.length)));
      res.writeHead(body ? 200 : 404, { 'content-type': JSON_TYPE, 'content-length': (body ?? NOT_FOUND).length });
      return res.end(body ?? NOT_FOUND);
    }
    if (req.method === 'POST' && req.url === '/v1/entities/batch') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = batch.get(JSON.parse(Buffer.concat(chunks).toString('utf8')).entity_ids.join(','));
        res.writeHead(body ? 200 : 404, { 'content-type': JSON_TYPE, 'content-length': (body ?? NOT_FOUND).length });
        res.end(body ?? NOT_FOUND);
      });
      return undefined;
    }
    res.writeHead(404).end();
    return undefined;
  });
}

let server;
await runServer({
  async start() {
    if (kind === 'node-http') {
      server = nodeHttp();
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { httpPort: server.address().port };
    }
    const app = Fastify({ logger: false });
    app.get('/v1/entities/:id', (req, reply) => {
      const body = single.get(req.params.id);
      return reply.code(body ? 200 : 404).type(JSON_TYPE).send(body ?? NOT_FOUND);
    });
    app.post('/v1/entities/batch', (req, reply) => {
      const body = batch.get(req.body.entity_ids.join(','));
      return reply.code(body ? 200 : 404).type(JSON_TYPE).send(body ?? NOT_FOUND);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    server = app;
    return { httpPort: app.server.address().port };
  },
  close: () => (kind === 'node-http' ? new Promise((r) => server?.close(r)) : server?.close()),
});
