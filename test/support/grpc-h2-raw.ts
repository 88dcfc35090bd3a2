/**
 * A raw node:http2 gRPC client for the fast-path tests: sends exactly the headers and body bytes
 * given (so tests can send what no gRPC library would: bad framing, two messages, a compressed
 * flag, odd grpc-timeout values) and returns what came back, headers, body bytes and trailers,
 * with the one header that differs between any two answers (`date`) left out.
 */
import http2 from 'node:http2';

export interface RawAnswer {
  readonly headers: Record<string, string | string[]>;
  readonly body: string;
  readonly trailers: Record<string, string | string[]>;
  /** RST_STREAM code when the stream was reset instead of answered. */
  readonly rst: number | null;
}

export interface RawCall {
  readonly path: string;
  /** Body bytes as sent: use frame() for a well-formed message. */
  readonly body?: Buffer;
  readonly headers?: Record<string, string>;
  readonly contentType?: string | null;
  readonly method?: string;
}

/** A length-prefixed gRPC message. */
export function frame(message: Buffer, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function plain(h: http2.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k of Object.keys(h).sort()) if (k !== 'date' && h[k] !== undefined) out[k] = h[k] as string | string[];
  return out;
}

export class RawGrpc {
  private readonly session: http2.ClientHttp2Session;

  constructor(readonly port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 1024 * 1024 });
    this.session.on('error', () => undefined);
  }

  call(c: RawCall): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const headers: http2.OutgoingHttpHeaders = { ':method': c.method ?? 'POST', ':path': c.path, te: 'trailers', ...c.headers };
      if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/grpc';
      const req = this.session.request(headers);
      let resHeaders: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => { resHeaders = h; });
      req.on('trailers', (t) => { trailers = t; });
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('error', () => undefined);
      req.on('close', () => {
        const rst = req.rstCode !== undefined && req.rstCode !== 0 ? req.rstCode : null;
        resolve({ headers: plain(resHeaders), body: Buffer.concat(chunks).toString('hex'), trailers: plain(trailers), rst });
      });
      const timer = setTimeout(() => reject(new Error(`no answer to ${c.path} in 10 s`)), 10_000);
      req.on('close', () => clearTimeout(timer));
      req.end(c.body ?? Buffer.alloc(0));
    });
  }

  close(): void {
    this.session.close();
  }
}
