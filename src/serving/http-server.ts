/**
 * HTTP transport (fastify): a thin adapter over Lookup and the snapshot admin operations. Entity
 * responses are assembled from each cached result's memoised JSON, so a cache hit serialises
 * nothing. Errors map through the error catalog to {"error": {"code", "message"}}.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import { ERROR_CATALOG, MaltError, errorBody, toMaltError } from '../errors.js';
import { KeyLayout } from '../keys.js';
import { SnapshotStore, type VersionManifest } from '../store/snapshot-store.js';
import type { EntityResult, Lookup } from './lookup.js';
import type { VersionTracker } from './version-tracker.js';
import { datasetsSchema, entitySchemas, errorResponses } from './http-schemas.js';

export interface HttpDeps {
  readonly config: MaltConfig;
  readonly lookup: Lookup;
  readonly tracker: VersionTracker;
  readonly redis: Redis;
  readonly isClosing: () => boolean;
  readonly logger?: boolean;
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** Longest raw (percent-encoded) path parameter the router accepts. */
const MAX_PARAM_CHARS = 4096;

export function entityJson(r: EntityResult): string {
  let out = `{"entity_id":${JSON.stringify(r.entityId)},"datasets":[`;
  for (let i = 0; i < r.datasets.length; i++) out += (i === 0 ? '' : ',') + r.datasets[i]!.toJson();
  return `${out}]}`;
}

function sendError(reply: FastifyReply, err: MaltError): FastifyReply {
  return reply.code(err.httpStatus).type(JSON_TYPE).send(errorBody(err));
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

function splitList(q: unknown): string[] {
  if (typeof q !== 'string' || q.length === 0) return [];
  return q.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function manifestJson(m: VersionManifest, current: number | null): Record<string, unknown> {
  return {
    version: String(m.id), state: m.state, current: m.id === current, rows: m.rows, rejected: m.rejected,
    rejected_reasons: m.rejectedReasons, duplicates: m.duplicates, source_fingerprint: m.fingerprint,
    source_files: m.sourceFiles, source_bytes: m.sourceBytes, loaded_at: m.loadedAt, published_at: m.publishedAt,
    duration_ms: m.durationMs, ...(m.error ? { error: m.error } : {}),
  };
}

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const { config, lookup, tracker } = deps;
  const store = new SnapshotStore(deps.redis, new KeyLayout(config.redis.keyPrefix));
  // find-my-way refuses path parameters over 100 characters (414) by default, before any handler
  // runs; a valid id is up to 256 UTF-8 bytes, i.e. up to 768 characters once percent-encoded.
  // Allow enough that over-long ids reach the lookup and get the catalog's INVALID_ENTITY_ID.
  const app = Fastify({
    logger: deps.logger ?? false, bodyLimit: config.serving.maxBodyBytes, return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
    // Refuse rather than silently fix bad bodies: no dropped unknown fields, no "a" → ["a"].
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    frameworkErrors: (err, req, reply) => sendError(reply, fromRouterError(err, req.url)),
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'malt', version: '1', description: `Precomputed player data. Error codes: ${Object.keys(ERROR_CATALOG).join(', ')}.` },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  app.addHook('onRequest', async (_req, reply) => {
    if (deps.isClosing()) return sendError(reply, new MaltError('SHUTTING_DOWN', 'server is shutting down'));
    return undefined;
  });
  app.setErrorHandler((err: FastifyError, _req, reply) => sendError(reply, fromFastifyError(err)));
  app.setNotFoundHandler((req, reply) => sendError(reply, new MaltError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));

  app.get<{ Params: { id: string }; Querystring: { datasets?: string } }>('/v1/entities/:id', { schema: entitySchemas.get }, async (req, reply) => {
    const [r] = await lookup.get([req.params.id], splitList(req.query.datasets));
    return reply.type(JSON_TYPE).send(entityJson(r as EntityResult));
  });

  app.post<{ Body: { entity_ids: string[]; datasets?: string[] } }>('/v1/entities/batch', { schema: entitySchemas.batch }, async (req, reply) => {
    const results = await lookup.get(req.body.entity_ids, req.body.datasets ?? []);
    let out = '{"results":[';
    for (let i = 0; i < results.length; i++) out += (i === 0 ? '' : ',') + entityJson(results[i]!);
    return reply.type(JSON_TYPE).send(`${out}]}`);
  });

  const segmentsDataset = (q: string | undefined): string => {
    if (q) return q;
    const seg = config.datasets.filter((d) => d.kind === 'segments');
    if (seg.length === 1) return seg[0]!.name;
    throw new MaltError('INVALID_ARGUMENT', `query parameter dataset is required (segments datasets: ${seg.map((d) => d.name).join(', ') || 'none'})`);
  };

  app.get<{ Params: { id: string }; Querystring: { dataset?: string } }>('/v1/entities/:id/segments', { schema: entitySchemas.segments }, async (req) => {
    const s = await lookup.segments(req.params.id, segmentsDataset(req.query.dataset));
    return { entity_id: req.params.id, segments: s.segments, version: s.version, found: s.found };
  });

  app.get<{ Params: { id: string; segment: string }; Querystring: { dataset?: string } }>('/v1/entities/:id/segments/:segment', { schema: entitySchemas.member }, async (req) => {
    const s = await lookup.segments(req.params.id, segmentsDataset(req.query.dataset));
    return { member: s.segments.includes(req.params.segment), version: s.version };
  });

  app.get('/v1/datasets', { schema: datasetsSchema.list }, async () => ({
    datasets: config.datasets.map((d) => {
      const v = tracker.get(d.name);
      return {
        name: d.name, kind: d.kind, key: d.key, source: d.source.uri,
        current_version: v ? v.versionString : null, serving_since: v?.since ?? null, loaded_at: v?.manifest.loadedAt ?? null,
        rows: v?.manifest.rows ?? null, source_fingerprint: v?.manifest.fingerprint ?? null,
        columns: v ? v.columns.map((c) => ({ name: c.name, type: c.type })) : null,
      };
    }),
  }));

  const known = (name: string): void => {
    if (!config.datasets.some((d) => d.name === name)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset ${JSON.stringify(name)}`);
  };

  app.get<{ Params: { name: string } }>('/v1/datasets/:name/versions', { schema: datasetsSchema.versions }, async (req) => {
    known(req.params.name);
    const current = await store.currentVersionId(req.params.name);
    const versions = await store.listVersions(req.params.name);
    return { dataset: req.params.name, current_version: current === null ? null : String(current), versions: versions.map((m) => manifestJson(m, current)) };
  });

  app.post<{ Params: { name: string }; Body: unknown }>('/v1/datasets/:name/rollback', { schema: datasetsSchema.rollback }, async (req) => {
    known(req.params.name);
    const body = req.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw new MaltError('INVALID_ARGUMENT', 'body must be a JSON object like {"to": "3"}');
    const raw = (body as { to?: unknown } | null | undefined)?.to;
    const to = raw === undefined || raw === null || raw === '' ? undefined : Number(raw);
    if (to !== undefined && (!Number.isInteger(to) || to <= 0)) throw new MaltError('INVALID_ARGUMENT', `"to" must be a version id, got ${JSON.stringify(raw)}`);
    const res = await store.rollback(req.params.name, to);
    await tracker.refreshAll();
    // refreshAll() joins a refresh already under way, which may have read the pointer before the
    // flip; one more round makes this replica serve the rolled-back version before we answer.
    if (tracker.get(req.params.name)?.id !== res.to) await tracker.refreshAll();
    return { dataset: req.params.name, from_version: res.from === null ? null : String(res.from), to_version: String(res.to) };
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    const datasets = Object.fromEntries(config.datasets.map((d) => [d.name, tracker.get(d.name)?.versionString ?? null]));
    try {
      await withTimeout(deps.redis.ping(), config.serving.requestTimeoutMs);
    } catch {
      return reply.code(503).send({ status: 'redis_unavailable', datasets });
    }
    return { status: 'ready', datasets };
  });
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error('timeout')), ms); })]).finally(() => clearTimeout(t));
}
