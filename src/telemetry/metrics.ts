/**
 * Every metric malt exports, in one place (docs/observability.md lists them; the Grafana dashboard
 * and alert rules in deploy/ reference only these names, test/metrics-deploy.test.ts checks it).
 * One registry per process: a process runs one serving app. Request-path recording goes through
 * pre-bound children (metric-families.ts): a field increment and a bucket scan, no allocation.
 * Process metrics (CPU, memory, event-loop lag, heap) are prom-client's, without its GC observer.
 */
import { createRequire } from 'node:module';
import { Registry } from 'prom-client';
import { type CounterChild, CounterFamily, type ExposedMetric, GaugeFamily, type HistogramChild, HistogramFamily, LATENCY_BUCKETS } from './metric-families.js';

export const registry = new Registry();

function register<T extends ExposedMetric>(m: T): T {
  // Registry's types want its own Metric class; it only reads name/help/type/get() (see metric-families.ts).
  registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
  return m;
}

export const metrics = {
  httpDuration: register(new HistogramFamily('malt_http_request_duration_seconds', 'HTTP requests by route and status: latency from routing to the last byte written (rate: _count)', ['method', 'route', 'status'], LATENCY_BUCKETS)),
  grpcDuration: register(new HistogramFamily('malt_grpc_request_duration_seconds', 'gRPC calls by method and status code: latency from the handler to the answer (rate: _count)', ['method', 'code'], LATENCY_BUCKETS)),
  errors: register(new CounterFamily('malt_errors_total', 'Requests answered with a malt error code (docs/errors.md), by transport and code', ['transport', 'code'])),

  cacheHits: register(new CounterFamily('malt_cache_hits_total', 'Result-cache lookups answered from the cache', [])),
  cacheMisses: register(new CounterFamily('malt_cache_misses_total', 'Result-cache lookups that started a Redis read', [])),
  cacheSharedMisses: register(new CounterFamily('malt_cache_shared_misses_total', 'Result-cache lookups that joined a Redis read already under way', [])),
  cacheEvictions: register(new CounterFamily('malt_cache_evictions_total', 'Results evicted from the cache to stay within cache.max_bytes', [])),
  cacheInvalidations: register(new CounterFamily('malt_cache_invalidations_total', 'Cached results dropped by real-time updates', [])),
  cacheBytes: register(new GaugeFamily('malt_cache_bytes', 'Approximate bytes held by the result cache', [])),
  cacheMaxBytes: register(new GaugeFamily('malt_cache_max_bytes', 'cache.max_bytes', [])),
  cacheEntries: register(new GaugeFamily('malt_cache_entries', 'Results held by the result cache', [])),

  redisDuration: register(new HistogramFamily('malt_redis_command_duration_seconds', 'Redis round trips on data keys (one pipeline or lone command) by operation', ['op'], LATENCY_BUCKETS)),
  redisCommands: register(new CounterFamily('malt_redis_commands_total', 'Commands sent on data keys, by operation', ['op'])),
  redisErrors: register(new CounterFamily('malt_redis_errors_total', 'Redis round trips on data keys that failed (connection lost, timeout, refused command), by operation', ['op'])),
  redisUp: register(new GaugeFamily('malt_redis_up', '1 while this replica reaches Redis, 0 while it is unreachable or stalled', [])),

  datasetVersion: register(new GaugeFamily('malt_dataset_version', 'The version id each dataset is served at (absent: none served)', ['dataset'])),
  datasetAsOf: register(new GaugeFamily('malt_dataset_as_of_timestamp_seconds', 'As-of time of the served snapshot (the Delta commit time or newest Parquet file time; else its load time)', ['dataset'])),
  datasetAge: register(new GaugeFamily('malt_dataset_snapshot_age_seconds', 'Seconds since the as-of time of the served snapshot', ['dataset'])),
  datasetServingSince: register(new GaugeFamily('malt_dataset_serving_since_timestamp_seconds', 'When the served version became the current one (publish or rollback)', ['dataset'])),

  loadDuration: register(new GaugeFamily('malt_load_duration_seconds', 'Duration of the newest finished load (published or failed), from its version manifest in Redis', ['dataset'])),
  loadRows: register(new GaugeFamily('malt_load_rows', 'Entities stored by the newest finished load', ['dataset'])),
  loadRejectedRows: register(new GaugeFamily('malt_load_rejected_rows', 'Rows rejected by the newest finished load', ['dataset'])),
  loadLastOutcome: register(new GaugeFamily('malt_load_last_outcome', '1 for the outcome of the newest load recorded in Redis (published, refused, failed, loading), 0 for the others', ['dataset', 'outcome'])),
  loadLastTimestamp: register(new GaugeFamily('malt_load_last_timestamp_seconds', 'When the newest load recorded in Redis started', ['dataset'])),
  loadRefusedVersions: register(new GaugeFamily('malt_load_refused_versions', 'Refused loads (quality gates, schema, source) whose version is still in Redis', ['dataset'])),

  streamLag: register(new GaugeFamily('malt_stream_lag_entries', 'Entries of an updates_stream not yet delivered to the consumer group', ['dataset', 'stream', 'group'])),
  streamPending: register(new GaugeFamily('malt_stream_pending_entries', 'Entries delivered to the consumer group and not yet acknowledged', ['dataset', 'stream', 'group'])),
  streamLagSeconds: register(new GaugeFamily('malt_stream_lag_seconds', 'Time between the newest entry of an updates_stream and the last one delivered to the group (0 when caught up)', ['dataset', 'stream', 'group'])),
  streamDeadLetters: register(new GaugeFamily('malt_stream_dead_letter_entries', 'Entries in a dataset\'s dead-letter stream', ['dataset', 'stream'])),
  kafkaLag: register(new GaugeFamily('malt_kafka_lag_records', 'Records of a partition of an updates_kafka topic not yet applied and committed by the consumer group, as last measured by its consumer (absent while that measurement is stale)', ['dataset', 'topic', 'group', 'partition'])),
  kafkaLagAge: register(new GaugeFamily('malt_kafka_lag_age_seconds', 'Seconds since the newest lag measurement of any consumer of the group (grows while none runs)', ['dataset', 'topic', 'group'])),
  kafkaLagStale: register(new GaugeFamily('malt_kafka_lag_stale_partitions', 'Partitions of the topic whose newest lag measurement is older than 3 lag_interval: no live consumer measures them', ['dataset', 'topic', 'group'])),
  updatesApplied: register(new CounterFamily('malt_updates_applied_total', 'Entities changed by real-time updates applied through this replica (HTTP and gRPC push)', ['dataset'])),

  degradedResults: register(new CounterFamily('malt_degraded_results_total', 'Results served degraded (docs/degraded-modes.md), by dataset and kind: stale (snapshot older than max_age), cached / defaults (a fallback answered while Redis could not be read), unavailable (no fallback: STORE_UNAVAILABLE)', ['dataset', 'kind'])),
  breakerOpen: register(new GaugeFamily('malt_redis_circuit_open', '1 while the circuit breaker in front of Redis reads is open or half-open (reads fail fast, fallbacks answer), 0 while closed', [])),

  scrapeErrors: register(new CounterFamily('malt_metrics_collect_errors_total', 'Scrapes whose Redis-side part (load manifests, stream lag, Kafka lag) could not be read, by part', ['part'])),
};

let processMetrics = false;

/**
 * prom-client's default process metrics except its GC histogram: collectDefaultMetrics() also
 * observes every GC (a PerformanceObserver on 'gc'), which cost 10–14% of an HTTP cache hit's CPU
 * here (BENCHMARKS.md#telemetry-overhead). The others are read at scrape time, or (event-loop
 * delay) sampled by a 10 ms libuv timer.
 */
const PROCESS_METRICS = [
  'processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors',
  'eventLoopLag', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version',
] as const;

/** Starts the process metrics (CPU, memory, event-loop lag, heap, handles) once per process. */
export function enableProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  const require = createRequire(import.meta.url);
  for (const name of PROCESS_METRICS) {
    // prom-client's per-metric modules (what collectDefaultMetrics calls); it has no exports map.
    const start = require(`prom-client/lib/metrics/${name}`) as (register: Registry, config: object) => void;
    start(registry, { eventLoopMonitoringPrecision: 10 });
  }
}

const collectors = new Set<() => void | Promise<void>>();

/**
 * Runs `collect` before every scrape (values that live elsewhere: cache sizes, served versions,
 * Redis-side load reports); returns the function that stops it.
 */
export function beforeScrape(collect: () => void | Promise<void>): () => void {
  collectors.add(collect);
  return () => {
    collectors.delete(collect);
  };
}

/** The exposition text (Prometheus text format 0.0.4) and its content type. */
export async function renderMetrics(): Promise<{ contentType: string; text: string }> {
  for (const c of collectors) await c();
  return { contentType: registry.contentType, text: await registry.metrics() };
}

/** Pre-bound children for one HTTP route: a child per status, created the first time it is seen. */
export class HttpRouteMetrics {
  private readonly byStatus = new Map<number, HistogramChild>();
  constructor(private readonly method: string, private readonly route: string) {}

  /** Records one response (status, seconds since routing). */
  record(status: number, seconds: number): void {
    let child = this.byStatus.get(status);
    if (child === undefined) {
      child = metrics.httpDuration.labels(this.method, this.route, String(status));
      this.byStatus.set(status, child);
    }
    child.observe(seconds);
  }
}

/** Pre-bound children for one gRPC method, by status code name (OK, NOT_FOUND, …). */
export class GrpcMethodMetrics {
  private readonly byCode = new Map<number, HistogramChild>();
  constructor(private readonly method: string, private readonly codeName: (code: number) => string) {}

  record(code: number, startMs: number): void {
    let child = this.byCode.get(code);
    if (child === undefined) {
      child = metrics.grpcDuration.labels(this.method, this.codeName(code));
      this.byCode.set(code, child);
    }
    child.observeSince(startMs);
  }
}

const errorChildren = new Map<string, CounterChild>();

/** Counts one request answered with error `code` on `transport` ('http' | 'grpc'). */
export function countError(transport: 'http' | 'grpc', code: string): void {
  const key = transport === 'http' ? code : `g${code}`;
  let child = errorChildren.get(key);
  if (child === undefined) {
    child = metrics.errors.labels(transport, code);
    errorChildren.set(key, child);
  }
  child.inc();
}

/** Pre-bound children for one Redis operation: pass `redisOp('read').onPipeline` as a batch's onPipeline. */
export interface RedisOpMetrics {
  readonly onPipeline: (commands: number, ms: number) => void;
  readonly onError: () => void;
}

export function redisOp(op: string): RedisOpMetrics {
  const duration = metrics.redisDuration.labels(op);
  const commands = metrics.redisCommands.labels(op);
  const errors = metrics.redisErrors.labels(op);
  return {
    onPipeline: (n, ms) => {
      duration.observe(ms / 1000);
      commands.inc(n);
    },
    onError: () => errors.inc(),
  };
}

const updateChildren = new Map<string, CounterChild>();

/** Counts `entities` changed by real-time updates of `dataset` applied through this replica. */
export function countUpdates(dataset: string, entities: number): void {
  let child = updateChildren.get(dataset);
  if (child === undefined) {
    child = metrics.updatesApplied.labels(dataset);
    updateChildren.set(dataset, child);
  }
  child.inc(entities);
}
