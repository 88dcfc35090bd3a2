/**
 * The bare grpc-js baselines: malt.v1.Serving from the same proto with the same proto-loader
 * options, answering Get / BatchGet with what malt returned for the same requests (fetched by the
 * runner). argv[2]: payload file; argv[3]: mode
 *   object  the response as a plain object, serialised by grpc-js/protobufjs on every call (what a
 *           bare grpc-js service does)
 *   bytes   malt's response bytes, passed through an identity serializer: grpc-js transport cost
 *           alone, the ceiling for any server that pre-encodes its responses
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadServingPackage } from '../../dist/serving/grpc-server.js';
import { runServer } from './lifecycle.mjs';

const payloads = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const mode = process.argv[3] ?? 'object';
const decode = (table) => new Map(Object.entries(table ?? {}).map(([k, v]) => [k, mode === 'bytes' ? Buffer.from(v, 'base64') : v]));
const get = decode(mode === 'bytes' ? payloads.getBytes : payloads.get);
const batch = decode(mode === 'bytes' ? payloads.batchBytes : payloads.batch);
const missing = { code: grpc.status.NOT_FOUND, details: 'no payload recorded for this request' };

function serviceDefinition() {
  const loaded = grpc.loadPackageDefinition(loadServingPackage());
  const def = loaded.malt.v1.Serving.service;
  if (mode !== 'bytes') return def;
  const identity = (b) => b;
  return Object.fromEntries(Object.entries(def).map(([k, m]) => [k, { ...m, responseSerialize: identity }]));
}

let server;
await runServer({
  async start() {
    server = new grpc.Server();
    server.addService(serviceDefinition(), {
      Get: (call, cb) => {
        const r = get.get(call.request.entity_id);
        return r ? cb(null, r) : cb(missing);
      },
      BatchGet: (call, cb) => {
        const r = batch.get(call.request.entity_ids.join(','));
        return r ? cb(null, r) : cb(missing);
      },
      GetSegments: (_call, cb) => cb(missing),
    });
    const port = await new Promise((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    return { grpcPort: port };
  },
  close: () => new Promise((resolve) => server?.tryShutdown(() => resolve())),
});
