/**
 * The fast path's forwarder (serving/grpc-h2-proxy.ts) carries every call the fast path does not
 * answer over one HTTP/2 session to grpc-js. A client session has 2^30 stream ids; one that has
 * used them refuses every new stream while still looking open, so the forwarder retires a session
 * after MAX_STREAMS_PER_SESSION calls: later calls go over a fresh one, calls still running on the
 * old one (a health Watch) finish there, and destroy() ends them all.
 */
import http2 from 'node:http2';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcForwarder, MAX_STREAMS_PER_SESSION } from '../src/serving/grpc-h2-proxy.js';
import { tmpDir } from './support/fixtures.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** An upstream on a unix socket answering each call with the number of its connection; `/hold` answers headers and never ends. */
async function upstream(socket: string): Promise<{ connections: () => number }> {
  let n = 0;
  const server = http2.createServer();
  server.on('session', () => n++);
  server.on('stream', (stream, headers) => {
    const id = String(n);
    stream.on('error', () => undefined);
    // As grpc-js answers: headers, the message, then trailers.
    stream.respond({ ':status': 200, 'x-conn': id }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    if (headers[':path'] === '/hold') return;
    stream.resume();
    stream.on('end', () => stream.end(id));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { connections: () => n };
}

/** A public server that forwards every stream; returns a client request helper. */
async function front(forwarder: GrpcForwarder): Promise<{ call: (p: string) => Promise<{ conn: string; body: string }>; hold: () => http2.ClientHttp2Stream }> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => forwarder.forward(stream, headers));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  closers.push(() => new Promise<void>((resolve) => {
    client.destroy();
    forwarder.destroy();
    server.close(() => resolve());
  }));
  return {
    call: (p) => new Promise((resolve, reject) => {
      const req = client.request({ ':path': p, ':method': 'POST' });
      let conn = '';
      let body = '';
      req.on('response', (h) => { conn = String(h['x-conn']); });
      req.setEncoding('utf8');
      req.on('data', (d: string) => { body += d; });
      req.on('end', () => resolve({ conn, body }));
      req.on('error', reject);
      req.end();
    }),
    hold: () => {
      const req = client.request({ ':path': '/hold', ':method': 'POST' });
      req.on('error', () => undefined);
      req.end();
      return req;
    },
  };
}

describe('grpc-h2-proxy forwarder', () => {
  it('retires its upstream session after MAX_STREAMS_PER_SESSION calls; later calls use a new one', async () => {
    expect(MAX_STREAMS_PER_SESSION).toBeLessThan(2 ** 30);
    const socket = path.join(tmpDir(), 'up.sock');
    const up = await upstream(socket);
    const forwarder = new GrpcForwarder(socket, 3);
    const f = await front(forwarder);
    const conns: string[] = [];
    for (let i = 0; i < 7; i++) conns.push((await f.call('/x')).conn);
    expect(conns).toEqual(['1', '1', '1', '2', '2', '2', '3']);
    expect(up.connections()).toBe(3);
  });

  it('a long call on a retired session goes on there, and destroy() ends it', async () => {
    const socket = path.join(tmpDir(), 'up.sock');
    await upstream(socket);
    const forwarder = new GrpcForwarder(socket, 1);
    const f = await front(forwarder);
    const held = f.hold();
    const heldConn = await new Promise<string>((resolve) => held.on('response', (h) => resolve(String(h['x-conn']))));
    expect(heldConn).toBe('1');
    expect((await f.call('/x')).conn).toBe('2');
    expect(held.closed).toBe(false);
    expect(forwarder.openSessions).toBe(2);
    const ended = new Promise<void>((resolve) => held.on('close', () => resolve()));
    forwarder.destroy();
    await ended;
    expect(forwarder.openSessions).toBe(0);
  });
});
