/**
 * HTTP push of real-time updates: `POST /v1/datasets/:name/updates` with `{"updates": [...]}`, a
 * thin adapter over the one write path (updates/write-path.ts). Needs the `write` scope (the
 * auth hook checks it). Success is `{"applied": N}`; a batch with bad items is 400 with
 * `error.items: [{index, code, message}]` and nothing applied. The body is bounded by
 * serving.max_body_bytes, the batch by the dataset's updates.max_batch.
 */
import type { FastifyInstance } from 'fastify';
import { MaltError } from '../errors.js';
import { UpdateRejected, type UpdateItem, type UpdateWritePath } from '../updates/write-path.js';
import { JSON_TYPE } from './http-entity-routes.js';

export function registerUpdateRoutes(app: FastifyInstance, writePath: UpdateWritePath): void {
  app.post<{ Params: { name: string }; Body: unknown }>('/v1/datasets/:name/updates', { config: { scope: 'write' } }, async (req, reply) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray((body as { updates?: unknown }).updates)) {
      throw new MaltError('INVALID_ARGUMENT', 'body must be a JSON object like {"updates": [{"entity_id": "42", "op": "upsert", "values": {...}}]}');
    }
    const extra = Object.keys(body).filter((k) => k !== 'updates');
    if (extra.length > 0) throw new MaltError('INVALID_ARGUMENT', `unknown field(s) ${extra.join(', ')}; the body is {"updates": [...]}`);
    try {
      return await writePath.apply(req.params.name, (body as { updates: UpdateItem[] }).updates);
    } catch (err) {
      if (!(err instanceof UpdateRejected)) throw err;
      return reply.code(err.httpStatus).type(JSON_TYPE).send(JSON.stringify({ error: { code: err.code, message: err.message, items: err.items } }));
    }
  });
}
