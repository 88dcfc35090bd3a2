/**
 * The floor for any Node gRPC server: bare node:http2 answering malt.v1.Serving calls with
 * pre-framed response bytes (5-byte gRPC header + malt's message bytes) and a grpc-status 0
 * trailer. No gRPC library, no decoding: it reads the request body, checks it is the recorded
 * request, and writes the recorded answer. argv[2]: payload file {calls: {"<method>": {request,
 * response}}} (base64 message bytes, see bench/tails.mjs).
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { runServer } from './lifecycle.mjs';

const frame = (b64) => {
  const msg = Buffer.from(b64, 'base64');
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
};
const calls = new Map(Object.entries(JSON.parse(readFileSync(process.argv[2], 'utf8')).calls)
  .map(([method, c]) => [`/malt.v1.Serving/${method}`, { request: frame(c.request), response: frame(c.response) }]));
const HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
const OK = { 'grpc-status': '0' };

function onStream(stream, headers) {
  const c = calls.get(headers[':path']);
  const chunks = [];
  stream.on('data', (d) => chunks.push(d));
  stream.on('end', () => {
    // The client may have cancelled it meanwhile (its deadline passed while the call queued).
    if (stream.destroyed || stream.closed) return;
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    if (!c || !body.equals(c.request)) {
      stream.respond({ ...HEADERS, 'grpc-status': '5', 'grpc-message': 'not the recorded request' }, { endStream: true });
      return;
    }
    stream.respond(HEADERS, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(OK));
    stream.end(c.response);
  });
  stream.on('error', () => undefined);
}

let server;
await runServer({
  async start() {
    server = http2.createServer();
    server.on('stream', onStream);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { grpcPort: server.address().port };
  },
  close: () => new Promise((resolve) => server?.close(() => resolve())),
});
