/**
 * gRPC transport: a thin adapter over Lookup. Serves malt.v1.Serving, grpc.health.v1.Health and
 * server reflection. The client's deadline bounds the Redis work (capped by
 * serving.request_timeout_ms); errors map through the error catalog.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthPolicy } from '../auth/auth-policy.js';
import { guardService } from '../auth/grpc-auth.js';
import { MaltError, toMaltError } from '../errors.js';
import { strictDescriptors } from './reflection-descriptors.js';
import { grpcServerCredentials } from '../tls/grpc-server-credentials.js';
import type { TlsFiles } from '../tls/tls-files.js';
import type { EntityResult, Lookup } from './lookup.js';
import { type EncodedMessage, encodeBatchGetResponse, encodeEntityResult } from './proto-encoding.js';
import { MAX_METADATA_BYTES, metadataLimit } from './grpc-metadata-limit.js';
import { type PushReq, pushHandler } from './grpc-push.js';
import { UpdateRejected, type UpdateWritePath } from '../updates/write-path.js';
import type { Logger } from '../telemetry/logger.js';
import { grpcMethod, grpcRequestId, grpcSpan } from '../telemetry/grpc-telemetry.js';
import { countError } from '../telemetry/metrics.js';
import { tracing } from '../telemetry/tracing.js';
import { H2Server } from './grpc-h2-server.js';
import { fastMethods } from './grpc-h2-methods.js';
import { GrpcForwarder } from './grpc-h2-proxy.js';
import { UndecodableRequest } from './grpc-request-reader.js';

export const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));
export const SERVING_PROTO = 'malt/v1/serving.proto';
export const SERVICE_NAME = 'malt.v1.Serving';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_ROOT],
};

export function loadServingPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(SERVING_PROTO, PROTO_LOADER_OPTIONS);
}

export interface GrpcServing {
  /** The grpc-js server (behind the node:http2 fast path when it is on, on a private unix socket). */
  readonly server: grpc.Server;
  readonly port: number;
  readonly health: HealthImplementation;
  /** Marks NOT_SERVING, drains in-flight calls up to `graceMs`, then forces shutdown. */
  close(graceMs: number): Promise<void>;
}

function protoParts(r: EntityResult): { entityId: string; datasets: EncodedMessage[] } {
  const datasets: EncodedMessage[] = new Array(r.datasets.length);
  for (let i = 0; i < r.datasets.length; i++) datasets[i] = r.datasets[i]!.proto;
  return { entityId: r.entityId, datasets };
}

/** EntityResult wire bytes from each DatasetResult's cached encoding (see proto-encoding.ts). */
function entityBytes(r: EntityResult): Buffer {
  const p = protoParts(r);
  return encodeEntityResult(p.entityId, p.datasets);
}

/**
 * The Serving service definition with Get and BatchGet answering pre-encoded bytes: their
 * handlers return a Buffer that is written as is (measured in BENCHMARKS.md).
 */
function servingDefinition(base: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const passthrough = (b: unknown): Buffer => b as Buffer;
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(base)) def[name] = { ...m, requestDeserialize: tolerantDeserialize(m.requestDeserialize) };
  def['Get'] = { ...def['Get']!, responseSerialize: passthrough };
  def['BatchGet'] = { ...def['BatchGet']!, responseSerialize: passthrough };
  return def as grpc.ServiceDefinition;
}

// A request that did not decode (UndecodableRequest): the handler answers INVALID_ARGUMENT (grpc-js would say INTERNAL).

function tolerantDeserialize(inner: (b: Buffer) => unknown): (b: Buffer) => unknown {
  return (b) => {
    try {
      return inner(b);
    } catch (err) {
      return new UndecodableRequest(err instanceof Error ? err.message : String(err));
    }
  };
}

function timeoutFor(call: grpc.ServerUnaryCall<unknown, unknown>, cap: number): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : Number(deadline);
  if (!Number.isFinite(at) || at <= 0) return cap;
  return Math.max(1, Math.min(cap, at - Date.now()));
}

export function fail(err: unknown, logger?: Logger, call?: { metadata: grpc.Metadata }): grpc.ServiceError {
  const e = toMaltError(err);
  countError('grpc', e.code);
  if (e.code === 'INTERNAL') logger?.error(`INTERNAL error on gRPC call: ${err instanceof Error ? err.stack : String(err)}`, call ? { request_id: grpcRequestId(call.metadata) } : undefined);
  const metadata = new grpc.Metadata();
  metadata.set('malt-error-code', e.code);
  // Push: the per-item errors, as the HTTP body's error.items (JSON).
  if (e instanceof UpdateRejected) metadata.set('malt-error-items', JSON.stringify(e.items));
  return Object.assign(new Error(`${e.code}: ${e.message}`), { code: e.grpcStatus, details: `${e.code}: ${e.message}`, metadata });
}

interface UnaryOptions {
  readonly isClosing: () => boolean;
  readonly timeoutMs: number;
  readonly logger?: Logger;
}

type Unary<Req> = (call: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<unknown>) => void;

function unary<Req>(opts: UnaryOptions, method: string, handler: (req: Req, timeoutMs: number) => Promise<unknown>): Unary<Req> {
  const { isClosing, timeoutMs: cap, logger: log } = opts;
  // Latency children bound once per method (telemetry/grpc-telemetry.ts); per call: a clock read and a bucket scan.
  const m = grpcMethod(method);
  const run: Unary<Req> = (call, cb) => {
    const started = performance.now();
    if (isClosing()) {
      cb(fail(new MaltError('SHUTTING_DOWN', 'server is shutting down'), log));
      m.record(grpc.status.UNAVAILABLE, started);
      return;
    }
    if (call.request instanceof UndecodableRequest) {
      cb(fail(new MaltError('INVALID_ARGUMENT', `request message does not decode: ${call.request.reason}`), log));
      m.record(grpc.status.INVALID_ARGUMENT, started);
      return;
    }
    handler(call.request, timeoutFor(call as grpc.ServerUnaryCall<unknown, unknown>, cap)).then((res) => {
      cb(null, res);
      m.record(grpc.status.OK, started);
    }, (err) => {
      const e = fail(err, log, call);
      cb(e);
      m.record(e.code, started);
    });
  };
  if (!tracing.on) return run;
  return (call, cb) => {
    const span = grpcSpan(method, call.metadata);
    span.run(() => run(call, (err, res) => {
      span.end(err ? (err as grpc.ServiceError).code ?? grpc.status.UNKNOWN : grpc.status.OK, (err as grpc.ServiceError | null)?.details);
      cb(err, res);
    }));
  };
}

interface GetReq { entity_id: string; datasets: string[] }
interface BatchReq { entity_ids: string[]; datasets: string[] }
interface SegReq { entity_id: string; dataset: string }

export interface GrpcServerOptions extends UnaryOptions {
  readonly host: string;
  readonly port: number;
  /** Checks each call's `authorization` metadata for its method's scope (src/auth/scopes.ts); default: open. */
  readonly auth?: AuthPolicy;
  /** Serve TLS with these (reloaded) certificates; default plaintext. */
  readonly tls?: TlsFiles | null;
  /** Where Push applies updates (updates/write-path.ts); without one Push answers UPDATES_DISABLED. */
  readonly writePath?: UpdateWritePath;
  /**
   * serving.grpc_fast_path (default true): a node:http2 server owns the port, answers Get,
   * BatchGet and GetSegments itself and forwards everything else to grpc-js
   * (grpc-h2-server.ts); false: grpc-js serves the port alone.
   */
  readonly fastPath?: boolean;
}

export async function startGrpc(lookup: Lookup, opts: GrpcServerOptions): Promise<GrpcServing> {
  const { auth } = opts;
  // Every method of the service object is guarded by its declared scope; add methods inside guard().
  const guard = <T extends object>(impl: T): T => (auth ? guardService(impl, auth, (e) => fail(e, opts.logger)) : impl);
  const pkgDef = loadServingPackage();
  const loaded = grpc.loadPackageDefinition(pkgDef) as unknown as { malt: { v1: { Serving: grpc.ServiceClientConstructor } } };
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    // Channelz (on by default in grpc-js) tracks every call and message for a channelz service
    // malt does not serve: per-call work and garbage on the hot path (BENCHMARKS.md, gRPC tails).
    'grpc.enable_channelz': 0,
    // Request metadata is bounded like HTTP headers (16 KiB) by an interceptor: grpc-js ignores grpc.max_metadata_size.
    interceptors: [metadataLimit(MAX_METADATA_BYTES, (bytes) => {
      const e = fail(new MaltError('HEADERS_TOO_LARGE', `request metadata is ${bytes} bytes; this server accepts at most ${MAX_METADATA_BYTES} (16 KiB)`));
      return { code: e.code, details: e.details, metadata: e.metadata };
    })],
  });
  server.addService(servingDefinition(loaded.malt.v1.Serving.service), guard({
    Get: unary<GetReq>(opts, 'Get', async (req, t) => entityBytes((await lookup.get([req.entity_id], req.datasets, t))[0] as EntityResult)),
    BatchGet: unary<BatchReq>(opts, 'BatchGet', async (req, t) => encodeBatchGetResponse((await lookup.get(req.entity_ids, req.datasets, t)).map(protoParts))),
    GetSegments: unary<SegReq>(opts, 'GetSegments', async (req, t) => {
      const seg = await lookup.segments(req.entity_id, req.dataset, t);
      return { entity_id: req.entity_id, segments: seg.segments, version: seg.version, found: seg.found, degraded: seg.degraded ?? 'NOT_DEGRADED' };
    }),
    Push: unary<PushReq>(opts, 'Push', pushHandler(opts.writePath)),
  }));
  const health = new HealthImplementation({ '': 'SERVING', [SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  // Descriptors a strict runtime accepts (grpcurl, protobuf-go, python): reflection-descriptors.ts.
  new ReflectionService(strictDescriptors(pkgDef)).addToServer(server);
  if (opts.fastPath ?? true) return fronted(server, health, lookup, servingDefinition(loaded.malt.v1.Serving.service), opts);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host}:${opts.port}`, grpcServerCredentials(opts.tls ?? null), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    server, port, health,
    close: (graceMs) => new Promise<void>((resolve) => {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(SERVICE_NAME, 'NOT_SERVING');
      // With channelz off, grpc-js's forceShutdown() resets no connection (it only walks the
      // sessions channelz tracks): a health Watch would keep one open after close. drain()
      // sends GOAWAY and resets what is still open after graceMs (test/grpc-interop.test.ts).
      server.drain(`${opts.host}:${port}`, graceMs);
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }),
  };
}

/**
 * The fast path: grpc-js on a unix socket in a private (0700) folder, the public port owned by
 * the node:http2 server (grpc-h2-server.ts) that answers the reads and forwards the rest.
 */
async function fronted(server: grpc.Server, health: HealthImplementation, lookup: Lookup, service: grpc.ServiceDefinition, opts: GrpcServerOptions): Promise<GrpcServing> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'malt-grpc-'));
  const socket = path.join(dir, 'grpc.sock');
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  let h2: H2Server;
  let forwarder: GrpcForwarder;
  let port: number;
  try {
    await new Promise<number>((resolve, reject) => {
      server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    forwarder = new GrpcForwarder(socket);
    h2 = new H2Server({
      host: opts.host, port: opts.port, tls: opts.tls ?? null, methods: fastMethods(lookup, service), forwarder,
      isClosing: opts.isClosing, timeoutMs: opts.timeoutMs, ...(opts.auth ? { auth: opts.auth } : {}), ...(opts.logger ? { logger: opts.logger } : {}),
      fail, metadataOf: (headers) => grpc.Metadata.fromHttp2Headers(headers),
    });
    port = await h2.listen();
  } catch (err) {
    server.forceShutdown();
    removeDir();
    throw err;
  }
  return {
    server, port, health,
    close: (graceMs) => new Promise<void>((resolve) => {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(SERVICE_NAME, 'NOT_SERVING');
      let left = 2;
      const finished = (): void => {
        if (--left > 0) return;
        clearTimeout(timer);
        forwarder.destroy();
        h2.destroy();
        removeDir();
        resolve();
      };
      // Past the grace period: reset what is still in flight on both servers.
      const timer = setTimeout(() => {
        h2.destroy();
        forwarder.destroy();
        server.forceShutdown();
      }, graceMs);
      // GOAWAY to every client; each connection closes once its calls are done.
      void h2.drain().then(finished);
      server.tryShutdown(finished);
    }),
  };
}
