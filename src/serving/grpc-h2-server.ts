/**
 * The gRPC port's own node:http2 server (serving.grpc_fast_path, issue 10): Get, BatchGet and
 * GetSegments are answered inline, with the bytes, statuses, trailers and metadata grpc-js
 * sends for them; every other stream is forwarded to malt's grpc-js server
 * (grpc-h2-proxy.ts). Per call it does what grpc-js + grpc-server.ts's wrapper do, in the same
 * order: metadata size (HEADERS_TOO_LARGE), `grpc-timeout`, the message (size limit,
 * compression, exactly one), then on end of stream the auth check, the span, SHUTTING_DOWN,
 * an undecodable request (INVALID_ARGUMENT), the lookup bounded by the deadline (capped by
 * serving.request_timeout_ms) and the answer; DEADLINE_EXCEEDED when the deadline passes first;
 * a client's RST_STREAM abandons the call. Errors are Trailers-Only responses.
 */
import type * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import type { AuthPolicy } from '../auth/auth-policy.js';
import { MaltError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { grpcHeaderRequestId, grpcMethod, grpcSpanWithId } from '../telemetry/grpc-telemetry.js';
import type { GrpcMethodMetrics } from '../telemetry/metrics.js';
import { tracing } from '../telemetry/tracing.js';
import type { TlsFiles } from '../tls/tls-files.js';
import { type CallStatus, MAX_RECEIVE_MESSAGE_BYTES, MessageReader, MessageTooLarge, compressedProblem, decompress } from './grpc-h2-framing.js';
import type { FastMethod } from './grpc-h2-methods.js';
import type { GrpcForwarder } from './grpc-h2-proxy.js';
import { metadataHeadersBytes, MAX_METADATA_BYTES } from './grpc-metadata-limit.js';
import { UndecodableRequest } from './grpc-request-reader.js';
import { invalidTimeoutMessage, parseGrpcTimeout } from './grpc-timeout.js';

const OK = 0;
const DEADLINE_EXCEEDED = 4;
const UNIMPLEMENTED = 12;
const INTERNAL = 13;

/** A catalog error as grpc-server.ts's fail() builds it: the status and its trailing metadata. */
type Fail = (err: unknown, logger?: Logger, call?: { metadata: grpc.Metadata }) => grpc.ServiceError;

export interface H2ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsFiles | null;
  readonly methods: ReadonlyMap<string, FastMethod>;
  readonly forwarder: GrpcForwarder;
  readonly isClosing: () => boolean;
  /** serving.request_timeout_ms: the longest a call's Redis work may take. */
  readonly timeoutMs: number;
  readonly auth?: AuthPolicy;
  readonly logger?: Logger;
  readonly fail: Fail;
  /** The request headers as grpc-js metadata (for an INTERNAL error's log line). */
  readonly metadataOf: (headers: http2.IncomingHttpHeaders) => grpc.Metadata;
}

/**
 * HTTP/2 settings: bounded where Node's defaults are not. Header lists up to 1 MiB are read, so
 * metadata past the 16 KiB bound gets HEADERS_TOO_LARGE (as from grpc-js) rather than a reset;
 * maxSessionMemory (MB) bounds what nghttp2 buffers for one connection; what is already handed to
 * JS (a call's headers and message bytes) is bounded per stream by the 1 MiB header list and the
 * 4 MiB message limit, times maxConcurrentStreams, and dropped as soon as the call is answered,
 * even if the client keeps the stream open.
 */
const H2_OPTIONS: http2.ServerOptions = {
  maxSessionMemory: 64,
  maxSendHeaderBlockLength: 1024 * 1024,
  settings: { maxConcurrentStreams: 1000, maxHeaderListSize: 1024 * 1024 },
};

const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};
const OK_TRAILERS: http2.OutgoingHttpHeaders = { 'grpc-status': '0', 'grpc-message': 'OK' };
const WAIT_FOR_TRAILERS: http2.ServerStreamResponseOptions = { waitForTrailers: true };

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}
const LEGAL_VALUE = /^[ -~]*$/;
const NO_HEADERS: http2.IncomingHttpHeaders = Object.freeze({});

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The call a stream belongs to, so the stream's listeners are shared functions, not closures per call. */
const CALL = Symbol('malt.grpcCall');
type CallStream = http2.ServerHttp2Stream & { [CALL]?: UnaryCall };

function onStreamClose(this: CallStream): void {
  this[CALL]!.onClose();
}

function onStreamData(this: CallStream, chunk: Buffer): void {
  this[CALL]!.onData(chunk);
}

function onStreamEnd(this: CallStream): void {
  this[CALL]!.onEnd();
}

interface Bound {
  readonly method: FastMethod;
  readonly path: string;
  readonly metrics: GrpcMethodMetrics;
}

/** One unary call on the fast path. */
class UnaryCall {
  private done = false;
  private timer: NodeJS.Timeout | null = null;
  private deadline = Infinity;
  private message: Buffer | null = null;
  private compressed = false;
  private count = 0;
  private reader: MessageReader | null = null;
  private readonly encoding: string;

  private started = 0;
  private endSpan: ((code: number, message?: string) => void) | null = null;

  constructor(private readonly srv: H2Server, private readonly stream: CallStream, private headers: http2.IncomingHttpHeaders, private readonly b: Bound) {
    this.encoding = first(headers['grpc-encoding']) ?? 'identity';
    stream[CALL] = this;
    stream.on('error', noop);
    stream.on('close', onStreamClose);
    const opts = srv.opts;
    // grpc-js's order: the metadata bound (an interceptor, synchronous) answers before a bad
    // grpc-timeout (answered on the next tick), which answers before any message is read.
    const bytes = metadataHeadersBytes(headers);
    if (bytes > MAX_METADATA_BYTES) {
      this.finishError(opts.fail(new MaltError('HEADERS_TOO_LARGE', `request metadata is ${bytes} bytes; this server accepts at most ${MAX_METADATA_BYTES} (16 KiB)`)));
      return;
    }
    const timeout = first(headers['grpc-timeout']);
    if (timeout !== undefined) {
      const ms = parseGrpcTimeout(timeout);
      if (ms === null) {
        this.finish({ code: INTERNAL, details: invalidTimeoutMessage(timeout) });
        return;
      }
      this.deadline = Date.now() + ms;
      this.timer = setTimeout(() => this.finish({ code: DEADLINE_EXCEEDED, details: 'Deadline exceeded' }), ms);
    }
    stream.on('data', onStreamData);
    stream.on('end', onStreamEnd);
  }

  onClose(): void {
    // Closed before we answered: the client reset it (cancelled); nothing is sent.
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  onData(chunk: Buffer): void {
    if (this.done) return;
    try {
      (this.reader ??= new MessageReader(MAX_RECEIVE_MESSAGE_BYTES)).write(chunk, this);
    } catch (err) {
      if (err instanceof MessageTooLarge) this.finish(err);
      else throw err;
    }
  }

  onMessage(compressed: boolean, body: Buffer): void {
    if (this.done) return;
    if (compressed) {
      const problem = compressedProblem(this.encoding);
      if (problem !== null) {
        this.finish(problem);
        return;
      }
    }
    if (++this.count === 2) {
      this.finish({ code: UNIMPLEMENTED, details: `Received a second request message for server streaming method ${this.b.path}` });
      return;
    }
    this.message = body;
    this.compressed = compressed;
  }

  onEnd(): void {
    if (this.done) return;
    const body = this.message;
    if (body === null) {
      this.finish({ code: UNIMPLEMENTED, details: `Received no request message for server streaming method ${this.b.path}` });
      return;
    }
    if (!this.compressed || this.encoding === 'identity') {
      this.start(this.b.method.decode(body));
      return;
    }
    decompress(body, this.encoding as 'gzip' | 'deflate').then((plain) => {
      if (!this.done) this.start(this.b.method.decode(plain));
    }, (status: CallStatus) => this.finish(status));
  }

  /** The request is in: auth, then the call (in a span when tracing is on). */
  private start(request: unknown): void {
    const { opts } = this.srv;
    if (opts.auth?.enabled) {
      try {
        const v = first(this.headers['authorization']);
        opts.auth.check(v !== undefined && LEGAL_VALUE.test(v) ? v : undefined, 'read');
      } catch (err) {
        this.finishError(opts.fail(err, opts.logger));
        return;
      }
    }
    if (!tracing.on) {
      this.run(request, null);
      return;
    }
    const span = grpcSpanWithId(this.b.method.name, grpcHeaderRequestId(this.headers));
    span.run(() => this.run(request, span.end));
  }

  private run(request: unknown, endSpan: ((code: number, message?: string) => void) | null): void {
    const { opts } = this.srv;
    this.started = performance.now();
    this.endSpan = endSpan;
    if (opts.isClosing()) {
      this.failed(opts.fail(new MaltError('SHUTTING_DOWN', 'server is shutting down'), opts.logger));
      return;
    }
    if (request instanceof UndecodableRequest) {
      this.failed(opts.fail(new MaltError('INVALID_ARGUMENT', `request message does not decode: ${request.reason}`), opts.logger));
      return;
    }
    const cap = opts.timeoutMs;
    const timeoutMs = this.deadline === Infinity ? cap : Math.max(1, Math.min(cap, this.deadline - Date.now()));
    this.b.method.run(request as never, timeoutMs).then((framed) => this.succeeded(framed), (err: unknown) => this.failedWith(err));
  }

  private succeeded(framed: Buffer): void {
    this.endSpan?.(OK);
    this.respond(framed);
    this.b.metrics.record(OK, this.started);
  }

  private failedWith(err: unknown): void {
    const { opts } = this.srv;
    const headers = this.headers;
    const metadataOf = opts.metadataOf;
    this.failed(opts.fail(err, opts.logger, { get metadata() { return metadataOf(headers); } }));
  }

  /** A call that ran and failed: span, Trailers-Only answer, metrics (as grpc-server.ts's unary wrapper). */
  private failed(e: grpc.ServiceError): void {
    this.endSpan?.(e.code, e.details);
    this.finishError(e);
    this.b.metrics.record(e.code, this.started);
  }

  /** `framed`: the 5-byte prefix and the message. */
  private respond(framed: Buffer): void {
    const s = this.settle();
    if (s === null) return;
    s.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
    s.on('wantTrailers', sendOkTrailers);
    s.end(framed);
  }

  /**
   * Marks the call answered (once): its timer stops and it keeps nothing the client sent, however
   * long the client keeps the stream open. Returns the stream to answer on, or null when the call
   * was already answered or the stream is gone.
   */
  private settle(): CallStream | null {
    if (this.done) return null;
    this.done = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.headers = NO_HEADERS;
    this.reader = null;
    this.message = null;
    const s = this.stream;
    return s.destroyed || s.closed ? null : s;
  }

  private finishError(e: grpc.ServiceError): void {
    this.finish({ code: e.code, details: e.details }, e.metadata.toHttp2Headers());
  }

  /** A Trailers-Only response, as grpc-js's sendStatus before any message. */
  private finish(status: CallStatus, metadata?: http2.OutgoingHttpHeaders): void {
    const s = this.settle();
    if (s === null) return;
    s.respond({ 'grpc-status': String(status.code), 'grpc-message': encodeURI(status.details), ':status': 200, 'content-type': 'application/grpc+proto', ...metadata }, { endStream: true });
    // Whatever the client still sends is read and dropped (grpc-js resumes the stream likewise).
    s.resume();
  }
}

function noop(): void {}

export class H2Server {
  readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly bound = new Map<string, Bound>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private unwatchTls: (() => void) | null = null;

  constructor(readonly opts: H2ServerOptions) {
    for (const [path, method] of opts.methods) this.bound.set(path, { method, path, metrics: grpcMethod(method.name) });
    const tls = opts.tls;
    if (tls === null) {
      this.server = http2.createServer(H2_OPTIONS);
    } else {
      const secure = http2.createSecureServer({ ...H2_OPTIONS, ...tls.httpsOptions(), ALPNProtocols: ['h2'], allowHTTP1: false });
      this.unwatchTls = tls.onChange((ctx) => secure.setSecureContext(ctx));
      this.server = secure;
    }
    this.server.on('session', (s: http2.ServerHttp2Session) => {
      this.sessions.add(s);
      s.on('error', noop);
      s.once('close', () => this.sessions.delete(s));
    });
    this.server.on('sessionError', noop);
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const b = this.bound.get(headers[':path'] ?? '');
    const type = headers['content-type'];
    if (b === undefined || headers[':method'] !== 'POST' || typeof type !== 'string' || !type.startsWith('application/grpc')) {
      this.opts.forwarder.forward(stream, headers);
      return;
    }
    new UnaryCall(this, stream as CallStream, headers, b);
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : this.opts.port);
      });
    });
  }

  /** Stops accepting connections and sends GOAWAY on each; resolves when every session has closed. */
  drain(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) s.close();
    return closed;
  }

  /** Ends every session now (in-flight calls are reset). */
  destroy(): void {
    for (const s of this.sessions) s.destroy();
    this.unwatchTls?.();
    this.unwatchTls = null;
  }
}
