/**
 * HTTP entity routes: lookups and segment membership, thin adapters over Lookup. Entity
 * responses are assembled from each cached result's memoised JSON, so a cache hit serialises
 * nothing.
 */
import type { FastifyInstance } from 'fastify';
import type { MaltConfig } from '../config.js';
import { MaltError } from '../errors.js';
import { entitySchemas } from './http-schemas.js';
import type { EntityResult, Lookup } from './lookup.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

const COMMA = Buffer.from(',');
const ENTITY_TAIL = Buffer.from(']}');
const BATCH_HEAD = Buffer.from('{"results":[');

/** Appends one entity's JSON (head + each dataset's cached bytes) to `parts`; returns its length. */
function pushEntity(parts: Buffer[], r: EntityResult): number {
  const head = Buffer.from(`{"entity_id":${JSON.stringify(r.entityId)},"datasets":[`);
  parts.push(head);
  let n = head.length + ENTITY_TAIL.length;
  for (let i = 0; i < r.datasets.length; i++) {
    if (i > 0) {
      parts.push(COMMA);
      n += 1;
    }
    const json = r.datasets[i]!.json;
    parts.push(json);
    n += json.length;
  }
  parts.push(ENTITY_TAIL);
  return n;
}

/**
 * The response body as one Buffer of cached bytes: fastify then neither re-serialises it nor
 * measures and re-encodes a concatenated string (measured in BENCHMARKS.md).
 */
export function entityBody(r: EntityResult): Buffer {
  const parts: Buffer[] = [];
  return Buffer.concat(parts, pushEntity(parts, r));
}

export function batchBody(results: readonly EntityResult[]): Buffer {
  const parts: Buffer[] = [BATCH_HEAD];
  let n = BATCH_HEAD.length + ENTITY_TAIL.length;
  for (let i = 0; i < results.length; i++) {
    if (i > 0) {
      parts.push(COMMA);
      n += 1;
    }
    n += pushEntity(parts, results[i]!);
  }
  parts.push(ENTITY_TAIL);
  return Buffer.concat(parts, n);
}

function splitList(q: unknown): string[] {
  if (typeof q !== 'string' || q.length === 0) return [];
  return q.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function registerEntityRoutes(app: FastifyInstance, config: MaltConfig, lookup: Lookup): void {
  app.get<{ Params: { id: string }; Querystring: { datasets?: string } }>('/v1/entities/:id', { schema: entitySchemas.get }, async (req, reply) => {
    const [r] = await lookup.get([req.params.id], splitList(req.query.datasets));
    return reply.type(JSON_TYPE).send(entityBody(r as EntityResult));
  });

  app.post<{ Body: { entity_ids: string[]; datasets?: string[] } }>('/v1/entities/batch', { schema: entitySchemas.batch }, async (req, reply) => {
    return reply.type(JSON_TYPE).send(batchBody(await lookup.get(req.body.entity_ids, req.body.datasets ?? [])));
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
}
