/**
 * HTTP transport (fastify): builds the app, maps every error through the catalog to
 * {"error": {"code", "message"}}, refuses new work while closing, and registers the entity and
 * dataset routes (http-entity-routes.ts, http-dataset-routes.ts), health and OpenAPI docs.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import { AuthPolicy } from '../auth/auth-policy.js';
import { addAuthHook } from '../auth/http-auth.js';
import type { TlsFiles } from '../tls/tls-files.js';
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import { ERROR_CATALOG, MaltError, errorBody, toMaltError } from '../errors.js';
import { KeyLayout } from '../keys.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { singleFlight, withDeadline } from './deadline.js';
import { registerDatasetRoutes } from './http-dataset-routes.js';
import { registerUpdateRoutes } from './http-update-routes.js';
import { type UpdateWritePath, createUpdateWritePath } from '../updates/write-path.js';
import { JSON_TYPE, registerEntityRoutes } from './http-entity-routes.js';
import type { Lookup } from './lookup.js';
import type { VersionTracker } from './version-tracker.js';
import type { ReadinessMonitor } from './readiness.js';
import type { Logger } from '../telemetry/logger.js';
import { instrumentHttp, requestId } from '../telemetry/http-telemetry.js';
import { countError } from '../telemetry/metrics.js';

export interface HttpDeps {
  readonly config: MaltConfig;
  readonly lookup: Lookup;
  readonly tracker: VersionTracker;
  readonly readiness: ReadinessMonitor;
  readonly redis: Redis;
  readonly isClosing: () => boolean;
  /** fastify's own request logger (default off). */
  readonly httpLogger?: boolean;
  /** Where unexpected (INTERNAL) errors are logged. */
  readonly logger?: Logger;
  /** Who may call what (default: from the config; share one so rate limits span both transports). */
  readonly auth?: AuthPolicy;
  /** Serve HTTPS with these (reloaded) certificates; default plain HTTP. */
  readonly tls?: TlsFiles | null;
  /** The update write path (default: one on `redis` that invalidates this replica's cache at once). */
  readonly writePath?: UpdateWritePath;
}

/** Longest raw (percent-encoded) path parameter the router accepts. */
const MAX_PARAM_CHARS = 4096;

function sendError(reply: FastifyReply, err: MaltError): FastifyReply {
  countError('http', err.code);
  return reply.code(err.httpStatus).type(JSON_TYPE).send(errorBody(err));
}

/** Errors Node's HTTP parser raises before routing (over-long URL or headers, garbage) as catalog bodies. */
function clientError(err: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = err.code === 'HPE_HEADER_OVERFLOW'
    ? new MaltError('HEADERS_TOO_LARGE', 'the request line (URL) and headers are larger than this server accepts (16 KiB)')
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new MaltError('INVALID_ARGUMENT', 'the request was not received in time')
      : new MaltError('INVALID_ARGUMENT', 'malformed HTTP request');
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : e.httpStatus;
  const body = errorBody(e);
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${JSON_TYPE}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/** Maps fastify's own errors (body parsing, validation, limits) into the catalog. */
function fromFastifyError(err: FastifyError): MaltError {
  if (err instanceof MaltError) return err;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new MaltError('PAYLOAD_TOO_LARGE', err.message);
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError) {
    return new MaltError('MALFORMED_JSON', `request body is not valid JSON: ${err.message}`);
  }
  if (err.validation) return new MaltError('INVALID_ARGUMENT', err.message);
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new MaltError('INVALID_ARGUMENT', `${err.message}; send application/json`);
  if (typeof err.statusCode === 'number' && err.statusCode < 500) return new MaltError('INVALID_ARGUMENT', err.message);
  return toMaltError(err);
}

/** Maps the router's own refusals (bad percent-encoding, over-long path parameter) into the catalog. */
function fromRouterError(err: FastifyError, url: string): MaltError {
  const code = url.startsWith('/v1/entities/') ? 'INVALID_ENTITY_ID' : 'INVALID_ARGUMENT';
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return new MaltError(code, `path parameter longer than ${MAX_PARAM_CHARS} characters`);
  if (err.code === 'FST_ERR_BAD_URL') return new MaltError(code, 'path is not valid percent-encoded UTF-8');
  return fromFastifyError(err);
}

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const { config, lookup, tracker } = deps;
  const store = new SnapshotStore(deps.redis, new KeyLayout(config.redis.keyPrefix));
  // find-my-way refuses path parameters over 100 characters (414) by default, before any handler
  // runs; a valid id is up to 256 UTF-8 bytes, i.e. up to 768 characters once percent-encoded.
  // Allow enough that over-long ids reach the lookup and get the catalog's INVALID_ENTITY_ID.
  const tls = deps.tls ?? null;
  const app = Fastify({
    // HTTPS typing differs only in the server type; the routes do not depend on it.
    ...(tls ? { https: tls.httpsOptions() } : {}) as object,
    logger: deps.httpLogger ?? false, bodyLimit: config.serving.maxBodyBytes, return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
    // Refuse rather than silently fix bad bodies: no dropped unknown fields, no "a" → ["a"].
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    frameworkErrors: (err, req, reply) => sendError(reply, fromRouterError(err, req.url)),
    clientErrorHandler: clientError,
    // x-request-id: the caller's when it is a plain token, else generated (telemetry/http-telemetry.ts).
    genReqId: requestId,
  });
  // Before any route: per-route metrics, /metrics, the request-id echo, request spans.
  instrumentHttp(app);

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'malt', version: '1', description: `Precomputed player data. Error codes: ${Object.keys(ERROR_CATALOG).join(', ')}.` },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  // A callback-style hook: no promise per request on the hot path.
  app.addHook('onRequest', (_req, reply, done) => {
    if (deps.isClosing()) {
      sendError(reply, new MaltError('SHUTTING_DOWN', 'server is shutting down'));
      return;
    }
    done();
  });
  addAuthHook(app, deps.auth ?? new AuthPolicy(config), sendError);
  if (tls) {
    // New certificates apply to new connections; open ones keep theirs (no restart, no drop).
    const stop = tls.onChange((ctx) => (app.server as unknown as HttpsServer).setSecureContext(ctx));
    app.addHook('onClose', (_i, done) => { stop(); done(); });
  }
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = fromFastifyError(err);
    if (e.code === 'INTERNAL') deps.logger?.error(`INTERNAL error on ${req.method} ${req.url}: ${err.stack ?? err.message}`, { request_id: req.id });
    return sendError(reply, e);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, new MaltError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));

  registerEntityRoutes(app, config, lookup);
  registerDatasetRoutes(app, config, tracker, store);
  registerUpdateRoutes(app, deps.writePath ?? createUpdateWritePath(deps.redis, config, {
    columnsOf: (d) => tracker.get(d)?.columns,
    onApplied: (d, ids) => lookup.invalidate(d, ids),
  }));

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  const ping = singleFlight(() => deps.redis.ping());
  // The one readiness rule (readiness.ts), shared with gRPC health; this call also refreshes it.
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const { readiness } = deps;
    try {
      await withDeadline(ping(), config.serving.requestTimeoutMs);
      // Back from an outage: re-read the pointers first (the new Redis may be empty).
      if (readiness.store !== 'up') await withDeadline(tracker.refreshAll(), config.serving.requestTimeoutMs);
      readiness.update();
    } catch (err) {
      const e = toMaltError(err);
      readiness.setStore(/did not answer within/.test(e.message) ? 'stalled' : 'unreachable', e.message);
    }
    const r = readiness.current();
    if (r.ready) return { status: 'ready', datasets: r.datasets };
    return reply.code(503).send({ status: r.store === 'up' ? 'not_ready' : 'redis_unavailable', reason: r.reason, datasets: r.datasets });
  });
  return app;
}
