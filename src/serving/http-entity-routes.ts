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

export function entityJson(r: EntityResult): string {
  let out = `{"entity_id":${JSON.stringify(r.entityId)},"datasets":[`;
  for (let i = 0; i < r.datasets.length; i++) out += (i === 0 ? '' : ',') + r.datasets[i]!.toJson();
  return `${out}]}`;
}

function splitList(q: unknown): string[] {
  if (typeof q !== 'string' || q.length === 0) return [];
  return q.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function registerEntityRoutes(app: FastifyInstance, config: MaltConfig, lookup: Lookup): void {
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
}
