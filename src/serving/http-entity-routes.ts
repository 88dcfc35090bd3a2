/**
 * HTTP entity routes: lookups and segment membership, thin adapters over Lookup. Entity
 * responses are assembled from each cached result's memoised JSON, so a cache hit serialises
 * nothing.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { MaltConfig } from '../config.js';
import { MaltError } from '../errors.js';
import { entitySchemas } from './http-schemas.js';
import type { EntityResult, Lookup } from './lookup.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** A response body and its UTF-8 length (sent as Content-Length, so nobody re-measures it). */
export interface Body {
  text: string;
  bytes: number;
}

function appendEntity(body: Body, r: EntityResult): void {
  const id = JSON.stringify(r.entityId);
  body.text += `{"entity_id":${id},"datasets":[`;
  body.bytes += 28 + Buffer.byteLength(id); // {"entity_id": … ,"datasets":[ … ]}
  for (let i = 0; i < r.datasets.length; i++) {
    const d = r.datasets[i]!;
    body.text += i === 0 ? d.json : `,${d.json}`;
    body.bytes += d.jsonBytes + (i === 0 ? 0 : 1);
  }
  body.text += ']}';
}

/** Response bodies are concatenated from each result's cached JSON; byte lengths are summed. */
export function entityBody(r: EntityResult): Body {
  const body = { text: '', bytes: 0 };
  appendEntity(body, r);
  return body;
}

export function batchBody(results: readonly EntityResult[]): Body {
  const body = { text: '{"results":[', bytes: 14 };
  for (let i = 0; i < results.length; i++) {
    if (i > 0) {
      body.text += ',';
      body.bytes += 1;
    }
    appendEntity(body, results[i]!);
  }
  body.text += ']}';
  return body;
}

/**
 * Writes a 200 JSON body straight to the socket with the summed Content-Length: fastify's send
 * would re-measure the (concatenated) string with Buffer.byteLength, 11–24% of the hot path
 * (BENCHMARKS.md). Only successful lookups take this path; errors go through fastify as usual.
 */
function send(reply: FastifyReply, body: Body): FastifyReply {
  reply.hijack();
  // x-request-id: the echo (telemetry/http-telemetry.ts) rides in this one header object, no setHeader.
  reply.raw.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': body.bytes, 'x-request-id': reply.request.id });
  reply.raw.end(body.text);
  return reply;
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/** Sends a lookup's outcome (Lookup.lookup's callback, which must not throw: a failure to send goes to the error handler). */
function answer(reply: FastifyReply, err: unknown, r: readonly EntityResult[] | null, batch: boolean): void {
  if (err !== null) {
    reply.send(err);
    return;
  }
  try {
    send(reply, batch ? batchBody(r as EntityResult[]) : entityBody((r as EntityResult[])[0] as EntityResult));
  } catch (e) {
    // Before the hijack the error handler answers; after it, the response is cut off.
    if (!reply.sent) reply.send(e);
    else reply.raw.destroy(e as Error);
  }
}

function splitList(q: unknown): readonly string[] {
  if (typeof q !== 'string' || q.length === 0) return NO_NAMES;
  return q.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function registerEntityRoutes(app: FastifyInstance, config: MaltConfig, lookup: Lookup): void {
  // Neither async nor promise-based (Lookup.lookup calls back): no promise per request; errors
  // go to reply.send(err), i.e. the error handler, as a rejection of an async handler would.
  app.get<{ Params: { id: string }; Querystring: { datasets?: string } }>('/v1/entities/:id', { schema: entitySchemas.get }, (req, reply) => {
    lookup.lookup([req.params.id], splitList(req.query.datasets), (err, r) => answer(reply, err, r, false));
  });

  app.post<{ Body: { entity_ids: string[]; datasets?: string[] } }>('/v1/entities/batch', { schema: entitySchemas.batch }, (req, reply) => {
    lookup.lookup(req.body.entity_ids, req.body.datasets ?? NO_NAMES, (err, r) => answer(reply, err, r, true));
  });

  const segmentsDataset = (q: string | undefined): string => {
    if (q) return q;
    const seg = config.datasets.filter((d) => d.kind === 'segments');
    if (seg.length === 1) return seg[0]!.name;
    throw new MaltError('INVALID_ARGUMENT', `query parameter dataset is required (segments datasets: ${seg.map((d) => d.name).join(', ') || 'none'})`);
  };

  app.get<{ Params: { id: string }; Querystring: { dataset?: string } }>('/v1/entities/:id/segments', { schema: entitySchemas.segments }, async (req) => {
    const s = await lookup.segments(req.params.id, segmentsDataset(req.query.dataset));
    return { entity_id: req.params.id, segments: s.segments, version: s.version, found: s.found, ...(s.degraded ? { degraded: s.degraded } : {}) };
  });

  app.get<{ Params: { id: string; segment: string }; Querystring: { dataset?: string } }>('/v1/entities/:id/segments/:segment', { schema: entitySchemas.member }, async (req) => {
    const s = await lookup.segments(req.params.id, segmentsDataset(req.query.dataset));
    return { member: s.segments.includes(req.params.segment), version: s.version, ...(s.degraded ? { degraded: s.degraded } : {}) };
  });
}
