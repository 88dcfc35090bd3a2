/**
 * What malt answered, recorded before the runs so the "same bytes" baselines can replay it: HTTP
 * bodies for every request of the hit lists, and gRPC responses both as decoded objects (for the
 * bare grpc-js baseline that serialises per call) and as raw message bytes (for the pre-encoded one).
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { call, servingClient } from '../../dist/serving/grpc-client.js';
import { batchGetFrame, getFrame, rawCall } from './grpc-wire.mjs';

export function httpRequest(agent, port, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${method} ${urlPath} → ${res.statusCode}: ${text.slice(0, 300)}`));
        else resolve(text);
      });
    });
    req.once('error', reject);
    req.end(body);
  });
}

/** Writes {single: {id: body}, batch: {"id,id,…": body}}; returns the file. */
export async function recordHttpPayloads(ctx, malt) {
  const ids = [...new Set(ctx.hitIds())];
  ctx.log(`  recording malt's HTTP responses for ${ids.length.toLocaleString('en-US')} distinct players and ${ctx.opts.batchSizes.length} batch sets for the baselines`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const single = {};
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < ids.length) {
      const id = ids[next++];
      single[id] = await httpRequest(agent, malt.httpPort, 'GET', `/v1/entities/${id}`);
    }
  }));
  const batch = {};
  for (const size of ctx.opts.batchSizes) {
    for (const b of ctx.batches(size)) batch[b.join(',')] = await httpRequest(agent, malt.httpPort, 'POST', '/v1/entities/batch', JSON.stringify({ entity_ids: b }));
  }
  agent.destroy();
  const file = path.join(ctx.tmpDir, 'http-payloads.json');
  writeFileSync(file, JSON.stringify({ single, batch }));
  return file;
}

/** Writes {get, batch} (objects) and {getBytes, batchBytes} (base64 message bytes); returns the file. */
export async function recordGrpcPayloads(ctx, malt) {
  const client = servingClient(`127.0.0.1:${malt.grpcPort}`);
  // The message bytes malt sent: the gRPC frame minus its 5-byte header.
  const bytes = async (method, frame) => {
    const r = await rawCall(malt.grpcPort, method, frame);
    if (r.grpcStatus !== '0' || r.body[0] !== 0) throw new Error(`malt ${method}: grpc-status ${r.grpcStatus}`);
    return r.body.subarray(5).toString('base64');
  };
  try {
    const hot = ctx.hotId();
    const out = { get: {}, getBytes: {}, batch: {}, batchBytes: {} };
    out.get[hot] = await call(client, 'Get', { entity_id: hot, datasets: [] });
    out.getBytes[hot] = await bytes('Get', getFrame(hot));
    for (const size of ctx.opts.batchSizes) {
      const ids = ctx.batches(size)[0];
      out.batch[ids.join(',')] = await call(client, 'BatchGet', { entity_ids: ids, datasets: [] });
      out.batchBytes[ids.join(',')] = await bytes('BatchGet', batchGetFrame(ids));
    }
    const file = path.join(ctx.tmpDir, 'grpc-payloads.json');
    writeFileSync(file, JSON.stringify(out));
    return file;
  } finally {
    client.close();
  }
}
