/**
 * Composes a serving replica (Redis connections, version tracker, cache, lookup, HTTP, gRPC) and
 * owns the one close() path. close() is idempotent and runs in a fixed order, each step in its
 * own try/catch: health → NOT_SERVING and new work refused (503 / UNAVAILABLE), both listeners
 * closed to new connections at once and their in-flight requests drained with a deadline, tracker
 * stopped, Redis quit, embedded redis-server stopped.
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { MaltConfig } from './config.js';
import { KeyLayout } from './keys.js';
import { ResultCache } from './cache/result-cache.js';
import { type RedisHandle, openRedis } from './redis/redis-handle.js';
import { Lifecycle } from './app/lifecycle.js';
import { type GrpcServing, startGrpc } from './serving/grpc-server.js';
import { buildHttp } from './serving/http-server.js';
import { closeHttpDraining } from './serving/http-drain.js';
import { Lookup } from './serving/lookup.js';
import { VersionTracker } from './serving/version-tracker.js';
import { ReadinessMonitor } from './serving/readiness.js';
import { logBreakerChanges } from './serving/circuit-breaker.js';
import { collectDegraded } from './telemetry/degraded-metrics.js';
import { type Logger, silentLogger } from './telemetry/logger.js';
import { SERVICE_NAME } from './serving/grpc-server.js';
import { createUpdateWritePath } from './updates/write-path.js';
import { AuthPolicy } from './auth/auth-policy.js';
import { assertExposureAllowed } from './auth/exposure.js';
import { TlsFiles } from './tls/tls-files.js';
import { observeServing, startTelemetry } from './app/serving-telemetry.js';
import { countUpdates } from './telemetry/metrics.js';

export interface ServingApp {
  readonly config: MaltConfig;
  readonly http: FastifyInstance;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly lookup: Lookup;
  readonly tracker: VersionTracker;
  readonly readiness: ReadinessMonitor;
  readonly redis: Redis;
  close(): Promise<void>;
}

export interface StartOptions {
  /** fastify's own request logger (default off). */
  readonly httpLogger?: boolean;
  /** Everything the app reports: startup, state changes (Redis lost / stalled / back, ready / not ready), INTERNAL errors, shutdown problems; default: none. */
  readonly logger?: Logger;
  /** How long close() waits for in-flight gRPC calls and HTTP requests (default 5000 ms). */
  readonly drainMs?: number;
}

export async function startServing(config: MaltConfig, options: StartOptions = {}): Promise<ServingApp> {
  const logger = options.logger ?? silentLogger;
  // Each start step registers its undo; close() undoes them in reverse (src/app/lifecycle.ts).
  const lifecycle = new Lifecycle(logger);
  const close = (): Promise<void> => lifecycle.close();
  // No keys and not loopback: refuse before opening anything unless `auth: none` (docs/security.md).
  assertExposureAllowed(config);

  try {
    // Tracing (when configured) before anything else: its flush is the last step of close().
    await startTelemetry(config, lifecycle);
    // ioredis auto-pipelining off: each request already sends one command (or one explicit
    // pipeline for a batch); with it on, the HTTP Redis path was slower (BENCHMARKS.md).
    const handle: RedisHandle = await openRedis(config, { logger, autoPipelining: false });
    lifecycle.add('redis', () => handle.close());
    const subscriber = handle.duplicate();
    const keys = new KeyLayout(config.redis.keyPrefix);
    const tracker = new VersionTracker(handle.client, subscriber, keys, config.datasets, config.serving.versionPollMs, logger);
    const readiness = new ReadinessMonitor(config.datasets, (n) => tracker.get(n)?.versionString ?? null, logger, () => lifecycle.closing);
    tracker.monitor = readiness;
    tracker.stallMs = Math.max(1000, config.serving.requestTimeoutMs * 4);
    handle.client.on('close', () => {
      if (!lifecycle.closing) readiness.setStore('unreachable', 'connection to Redis closed');
    });
    handle.client.on('ready', () => {
      if (!lifecycle.closing) void tracker.refreshAll().catch(() => undefined);
    });
    await tracker.start();
    lifecycle.add('version tracker', () => tracker.stop());
    const cache = new ResultCache(config.cache.maxBytes, config.cache.negativeTtlMs);
    const lookup = new Lookup(handle.client, tracker, cache, config);
    // The tracker or the connection saw Redis gone or stalled: open the breaker at once; saw it answer: close it.
    readiness.onChange((r) => (r.store === 'up' ? lookup.breaker.success() : lookup.breaker.trip(`redis ${r.store}`)));
    logBreakerChanges(lookup.breaker, logger);
    lifecycle.add('degraded metrics', collectDegraded(lookup.degraded.counters, lookup.breaker));
    observeServing({ config, redis: handle.client, cache, lookup, tracker, readiness }, lifecycle);
    const isClosing = (): boolean => lifecycle.closing;
    // One policy for both transports, so a key's rate limit counts calls on either.
    const auth = new AuthPolicy(config);
    const tls = config.tls ? new TlsFiles(config.tls, { logger }) : null;
    if (tls) lifecycle.add('tls', () => tls.close());

    // The one update write path, shared by HTTP and gRPC push (docs/updates.md).
    const writePath = createUpdateWritePath(handle.client, config, { columnsOf: (d) => tracker.get(d)?.columns, onApplied: (d, ids) => { lookup.invalidate(d, ids); countUpdates(d, ids.length); } });
    const http = await buildHttp({ config, lookup, tracker, readiness, redis: handle.client, isClosing, httpLogger: options.httpLogger, logger, auth, tls, writePath });
    await http.listen({ host: config.serving.host, port: config.serving.httpPort });
    // close() stops both listeners at once (gRPC's step, which runs first, closes HTTP too), so no
    // new connection is accepted on either while in-flight requests drain (test/graceful-shutdown).
    const drainMs = options.drainMs ?? 5000;
    let httpClosed: Promise<void> | null = null;
    const closeHttp = (): Promise<void> => (httpClosed ??= closeHttpDraining(http, drainMs));
    lifecycle.add('http', closeHttp);
    const address = http.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.serving.httpPort;

    const grpc: GrpcServing = await startGrpc(lookup, { host: config.serving.host, port: config.serving.grpcPort, timeoutMs: config.serving.requestTimeoutMs, isClosing, logger, auth, tls, writePath, fastPath: config.serving.grpcFastPath });
    lifecycle.add('grpc', () => Promise.all([grpc.close(drainMs), closeHttp()]));
    // gRPC health follows the readiness rule from now on (state changes, not only /readyz calls).
    readiness.onChange((r) => {
      const status = r.ready ? 'SERVING' : 'NOT_SERVING';
      grpc.health.setStatus('', status);
      grpc.health.setStatus(SERVICE_NAME, status);
    });
    return { config, http, httpPort, grpcPort: grpc.port, lookup, tracker, readiness, redis: handle.client, close };
  } catch (err) {
    await close();
    throw err;
  }
}
