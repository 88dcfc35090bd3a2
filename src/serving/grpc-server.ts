/**
 * gRPC transport: a thin adapter over Lookup. Serves malt.v1.Serving, grpc.health.v1.Health and
 * server reflection. The client's deadline bounds the Redis work (capped by
 * serving.request_timeout_ms); errors map through the error catalog.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { fileURLToPath } from 'node:url';
import type { AuthPolicy } from '../auth/auth-policy.js';
import { guardService } from '../auth/grpc-auth.js';
import { MaltError, toMaltError } from '../errors.js';
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

/** A request that did not decode; the handler answers INVALID_ARGUMENT (grpc-js would say INTERNAL). */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

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

function fail(err: unknown, logger?: Logger, call?: { metadata: grpc.Metadata }): grpc.ServiceError {
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
  new ReflectionService(pkgDef).addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host}:${opts.port}`, grpcServerCredentials(opts.tls ?? null), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    server, port, health,
    close: (graceMs) => new Promise<void>((resolve) => {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(SERVICE_NAME, 'NOT_SERVING');
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
