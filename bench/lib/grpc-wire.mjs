/**
 * gRPC on the wire, for pre-encoded load: a request message serialised once with malt's own
 * proto definition, framed as gRPC does (1 byte compressed-flag 0, 4-byte big-endian length,
 * the protobuf bytes), and a raw call over node:http2 to compare servers byte for byte.
 */
import http2 from 'node:http2';
import { loadServingPackage } from '../../dist/serving/grpc-server.js';

const service = loadServingPackage()['malt.v1.Serving'];

export function frame(message) {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

export const getFrame = (entityId) => frame(service.Get.requestSerialize({ entity_id: entityId, datasets: [] }));
export const batchGetFrame = (ids) => frame(service.BatchGet.requestSerialize({ entity_ids: ids, datasets: [] }));

/** One call with a pre-encoded frame; returns the HTTP status, grpc-status and response body bytes. */
export function rawCall(port, method, body) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': `/malt.v1.Serving/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks = [];
    let status = 0;
    let grpcStatus = null;
    stream.on('response', (h) => { status = h[':status']; grpcStatus = h['grpc-status'] ?? grpcStatus; });
    stream.on('trailers', (t) => { grpcStatus = t['grpc-status']; });
    stream.on('data', (d) => chunks.push(d));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      resolve({ status, grpcStatus, body: Buffer.concat(chunks) });
    });
    stream.end(body);
  });
}
