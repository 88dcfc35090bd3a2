/**
 * Forwards the gRPC calls the fast path does not answer itself (Push, grpc.health.v1.Health
 * including Watch streams, server reflection, unknown methods, anything not a gRPC POST) to
 * malt's grpc-js server, listening on a private unix socket, over one HTTP/2 client session:
 * request headers, data and end of stream go up; response headers, data, trailers and
 * RST_STREAM come back; a client's RST_STREAM cancels the upstream stream. grpc-js's answers
 * reach the client unchanged, so those calls keep its exact semantics.
 */
import http2 from 'node:http2';
import net from 'node:net';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, HTTP2_HEADER_STATUS } = http2.constants;

/** Request headers that belong to this hop (HTTP/2 forbids connection-specific ones anyway). */
const HOP = new Set([':scheme', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * Streams one upstream session carries; the next call opens a fresh session and the old one
 * closes once its calls are done. A client session has 2^30 stream ids, and one that has used
 * them all refuses every new stream while still looking open.
 */
export const MAX_STREAMS_PER_SESSION = 2 ** 29;

export class GrpcForwarder {
  private session: http2.ClientHttp2Session | null = null;
  /** Every session still open: the current one and retired ones whose calls (a health Watch) go on. */
  private readonly sessions = new Set<http2.ClientHttp2Session>();
  private streams = 0;
  private closed = false;

  constructor(private readonly socketPath: string, private readonly maxStreams = MAX_STREAMS_PER_SESSION) {}

  private upstream(): http2.ClientHttp2Session {
    const s = this.session;
    if (s !== null && !s.closed && !s.destroyed) {
      if (this.streams < this.maxStreams) {
        this.streams++;
        return s;
      }
      s.close();
    }
    this.streams = 1;
    const next = http2.connect('http://localhost', {
      createConnection: () => net.connect(this.socketPath),
      // The same bounds as the public side (grpc-h2-server.ts): grpc-js answers an oversized call itself.
      maxSessionMemory: 64,
      maxSendHeaderBlockLength: 1024 * 1024,
      settings: { maxHeaderListSize: 1024 * 1024 },
    });
    next.on('error', () => undefined);
    next.on('close', () => {
      this.sessions.delete(next);
      if (this.session === next) this.session = null;
    });
    this.sessions.add(next);
    next.unref();
    this.session = next;
    return next;
  }

  /** Upstream sessions open now (tests). */
  get openSessions(): number {
    return this.sessions.size;
  }

  /** Pipes one public stream to grpc-js and back. */
  forward(down: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    down.on('error', () => undefined);
    if (this.closed) {
      down.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const out: http2.OutgoingHttpHeaders = {};
    for (const key of Object.keys(headers)) if (!HOP.has(key)) out[key] = headers[key];
    let up: http2.ClientHttp2Stream;
    try {
      up = this.upstream().request(out, { endStream: false });
    } catch {
      down.close(NGHTTP2_INTERNAL_ERROR);
      return;
    }
    up.on('error', () => undefined);
    let trailers: http2.IncomingHttpHeaders | null = null;
    let responded = false;
    up.on('response', (h, flags) => {
      if (down.destroyed || down.closed) return;
      responded = true;
      const res: http2.OutgoingHttpHeaders = {};
      for (const key of Object.keys(h)) res[key] = h[key];
      res[HTTP2_HEADER_STATUS] = h[HTTP2_HEADER_STATUS] ?? 200;
      if (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) {
        down.respond(res, { endStream: true });
        return;
      }
      down.respond(res, { waitForTrailers: true });
      down.once('wantTrailers', () => {
        if (trailers !== null) down.sendTrailers(stripPseudo(trailers));
        else down.close(up.rstCode ?? NGHTTP2_INTERNAL_ERROR);
      });
      up.pipe(down);
    });
    up.on('trailers', (t) => {
      trailers = t;
    });
    up.on('close', () => {
      // Upstream reset (or it closed without an answer): the client sees the same RST code.
      if (down.destroyed || down.closed) return;
      const code = up.rstCode ?? NGHTTP2_INTERNAL_ERROR;
      if (!responded || (trailers === null && code !== 0)) down.close(code === 0 ? NGHTTP2_INTERNAL_ERROR : code);
    });
    down.on('close', () => {
      if (!up.closed && !up.destroyed) up.close(NGHTTP2_CANCEL);
    });
    down.pipe(up);
  }

  /** Ends the upstream session and every call on it (the server's last close step). */
  destroy(): void {
    this.closed = true;
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
    this.session = null;
  }
}

function stripPseudo(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const key of Object.keys(h)) if (key.charAt(0) !== ':') out[key] = h[key];
  return out;
}
