/**
 * HTTP instrumentation, installed once on the fastify app before any route (serving/http-server.ts):
 *  - every route gets a route-level onResponse hook bound, at registration, to its own histogram
 *    children (HttpRouteMetrics): per response a Map lookup by status and a bucket scan. It fires
 *    on the 'finish' of the raw response, so the entity routes' hijacked fast path is counted too;
 *  - `GET /metrics` (Prometheus text). It needs the `read` scope when API keys are configured
 *    (docs/observability.md#scraping);
 *  - request ids: `x-request-id` taken from the request when it is a plain token (else generated:
 *    `<process prefix>-<counter>`), echoed on every response (an onSend hook; the hijacked fast
 *    path writes it itself) and attached to error lines and spans;
 *  - when tracing is on, a server span per request, active while the route runs.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { HttpRouteMetrics, renderMetrics } from './metrics.js';
import { SpanStatusCode, startRequestSpan, tracing } from './tracing.js';
import type { Span } from '@opentelemetry/api';

const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;
const ID_PREFIX = randomBytes(4).toString('hex');
let idSeq = 0;

/** fastify's genReqId: the caller's `x-request-id` when it is a plain token of at most 128 characters, else a new one. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  idSeq = (idSeq + 1) & 0x7fffffff; // stays a small integer (fastify does the same)
  return `${ID_PREFIX}-${idSeq.toString(36)}`;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span while tracing is on. */
    maltSpan?: Span;
  }
}

/** Adds per-route metrics, the request-id echo and (when tracing is on) request spans; call before registering routes. */
export function instrumentHttp(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const url = route.url;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const m = new HttpRouteMetrics(methods.join(','), url);
    const record = (_req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
      m.record(reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    const existing = route.onResponse;
    route.onResponse = existing === undefined ? [record] : Array.isArray(existing) ? [...existing, record] : [existing, record];
  });
  // The echo, for replies fastify sends. The entity routes' hijacked fast path skips onSend and
  // puts the id in its own writeHead (http-entity-routes.ts): a setHeader() on the raw response
  // before writeHead puts Node on its slower header-merge path (BENCHMARKS.md#telemetry-overhead).
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    done(null, payload);
  });
  if (tracing.on) addTracingHooks(app);
  app.get('/metrics', { schema: { hide: true }, config: { scope: 'read' } }, async (_req, reply) => {
    const { contentType, text } = await renderMetrics();
    return reply.type(contentType).send(text);
  });
}

function addTracingHooks(app: FastifyInstance): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const { span, run } = startRequestSpan(`${req.method} ${route}`, {
      'http.request.method': req.method, 'http.route': route, 'url.path': req.url.split('?')[0] ?? '', 'malt.request_id': req.id,
    });
    req.maltSpan = span;
    run(done);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const span = req.maltSpan;
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
