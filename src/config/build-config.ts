/**
 * Turns a parsed config document (snake_case, as in YAML) into the config malt uses
 * (camelCase, paths resolved, dataset columns in declaration order). The exported types are
 * derived from this mapping and so from the schema: a key added there shows up here, typed.
 */
import path from 'node:path';
import type { ColumnType } from '../column-types.js';
import type { ConfigDocument, DatasetDocument } from './schema.js';

const isUri = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

function buildDataset(d: DatasetDocument, baseDir: string) {
  const mnf = d.checks.max_null_fraction;
  return {
    name: d.name,
    kind: d.kind,
    source: {
      format: d.source.format,
      /** Absolute local path (file, directory or glob) or s3://bucket/prefix. */
      uri: isUri(d.source.uri) ? d.source.uri : path.resolve(baseDir, d.source.uri),
      version: d.source.version,
      asOf: d.source.as_of,
      partition: d.source.partition,
      requireSuccessMarker: d.source.require_success_marker,
    },
    key: d.key,
    /** Declared columns in declaration order; null = every non-key column, types from the source. */
    columns: d.columns === null ? null : Object.entries(d.columns).map(([name, type]): { name: string; type: ColumnType } => ({ name, type })),
    /** Raw defaults from the file; typed against the column types at load/serve time. */
    defaults: d.defaults,
    keepVersions: d.keep_versions,
    segmentColumn: d.segment_column,
    checks: {
      minRows: d.checks.min_rows,
      maxRejectedFraction: d.checks.max_rejected_fraction,
      maxRowDropFraction: d.checks.max_row_drop_fraction,
      maxNullFraction: typeof mnf === 'number' || mnf === null
        ? { default: mnf, columns: {} as Record<string, number> }
        : { default: null as number | null, columns: mnf },
      allowSchemaChange: d.checks.allow_schema_change,
    },
    allowEmpty: d.allow_empty,
    /** Served snapshots older than this (as-of time) are marked STALE; null: never (docs/degraded-modes.md). */
    maxAgeMs: d.max_age,
    /** What answers when Redis cannot be read in time, in order; then STORE_UNAVAILABLE. */
    fallback: d.fallback,
    sync: { intervalMs: d.sync.interval, jitter: d.sync.jitter },
    /** Real-time updates (docs/updates.md); off by default. */
    updates: { enabled: d.updates.enabled, retentionMs: d.updates.retention, maxBatch: d.updates.max_batch },
    /** `malt consume`: the stream of updates and where bad entries go (null: not consumed). */
    updatesStream: d.updates_stream,
    deadLetterStream: d.updates_stream === null ? null : (d.dead_letter_stream ?? `${d.updates_stream}:dead`),
    /** The dead-letter stream's approximate MAXLEN. */
    deadLetterMaxlen: d.dead_letter_maxlen,
    /** Segment enter/exit events (docs/updates.md#segment-enterexit-events); null: none. */
    segmentEvents: d.segment_events_stream === null ? null : { stream: d.segment_events_stream, maxlen: d.segment_events_maxlen },
    /** `malt consume` from Kafka (docs/kafka.md); null: not consumed from Kafka. */
    updatesKafka: d.updates_kafka === null ? null : buildKafka(d.updates_kafka, d.dead_letter_stream, baseDir),
  };
}

function buildKafka(k: NonNullable<DatasetDocument['updates_kafka']>, deadLetterStream: string | null, baseDir: string) {
  const file = (p: string | null): string | null => (p === null ? null : path.resolve(baseDir, p));
  return {
    brokers: k.brokers,
    topic: k.topic,
    /** null: `consume.group`. */
    group: k.group,
    clientId: k.client_id,
    deadLetterTopic: k.dead_letter_topic,
    /** Where bad records go when there is no dead-letter topic (a Redis stream). */
    deadLetterStream: k.dead_letter_topic !== null ? null : (deadLetterStream ?? `${k.topic}:dead`),
    startFrom: k.start_from,
    batchSize: k.batch_size,
    maxWaitMs: k.max_wait_ms,
    sessionTimeoutMs: k.session_timeout_ms,
    lagIntervalMs: k.lag_interval,
    lagLogIntervalMs: k.lag_log_interval,
    /** null: plaintext. */
    tls: k.tls.enabled || k.tls.ca !== null || k.tls.cert !== null || k.tls.key !== null
      ? { ca: file(k.tls.ca), cert: file(k.tls.cert), key: file(k.tls.key), serverName: k.tls.server_name, rejectUnauthorized: k.tls.reject_unauthorized }
      : null,
    /** null: no SASL. */
    sasl: k.sasl.mechanism === 'none' ? null : { mechanism: k.sasl.mechanism, username: k.sasl.username, passwordEnv: k.sasl.password_env, tokenEnv: k.sasl.token_env },
  };
}

export function buildConfig(doc: ConfigDocument, configPath: string | null, baseDir: string) {
  return {
    configPath,
    redis: { url: doc.redis.url, cluster: doc.redis.cluster, keyPrefix: doc.redis.key_prefix, embeddedDir: path.resolve(baseDir, doc.redis.embedded_dir) },
    serving: {
      host: doc.serving.host,
      httpPort: doc.serving.http_port,
      grpcPort: doc.serving.grpc_port,
      grpcFastPath: doc.serving.grpc_fast_path,
      requestTimeoutMs: doc.serving.request_timeout_ms,
      maxBatchSize: doc.serving.max_batch_size,
      maxBodyBytes: doc.serving.max_body_bytes,
      versionPollMs: doc.serving.version_poll_ms,
      maxPendingReads: doc.serving.max_pending_reads,
      adminToken: doc.serving.admin_token,
      breakerFailures: doc.serving.breaker_failures,
      breakerOpenMs: doc.serving.breaker_open_ms,
    },
    cache: { maxBytes: doc.cache.max_bytes, negativeTtlMs: doc.cache.negative_ttl_ms },
    loader: {
      batchRows: doc.loader.batch_rows,
      maxBatchesInFlight: doc.loader.max_batches_in_flight,
      lockTtlMs: doc.loader.lock_ttl_ms,
      reclaimGraceMs: doc.loader.reclaim_grace_ms,
      workers: doc.loader.workers,
    },
    s3: { region: doc.s3.region, endpoint: doc.s3.endpoint, forcePathStyle: doc.s3.force_path_style },
    consume: {
      group: doc.consume.group,
      /** null: `<hostname>-<pid>`, chosen when the consumer starts. */
      consumer: doc.consume.consumer,
      batchSize: doc.consume.batch_size,
      blockMs: doc.consume.block_ms,
      claimIdleMs: doc.consume.claim_idle_ms,
    },
    /** API keys (docs/security.md); `hash` is the hex digest without its `sha256:` prefix. */
    auth: {
      mode: doc.auth.mode,
      keys: doc.auth.keys.map((k) => ({
        name: k.name, hash: k.hash.slice('sha256:'.length).toLowerCase(), scopes: k.scopes,
        rateLimit: k.rate_limit === null ? null : { rps: k.rate_limit.rps, burst: k.rate_limit.burst ?? Math.max(1, Math.ceil(k.rate_limit.rps)) },
      })),
    },
    /** TLS for HTTP and gRPC (null: plaintext); absolute paths. */
    tls: doc.tls.cert === null || doc.tls.key === null ? null : {
      cert: path.resolve(baseDir, doc.tls.cert),
      key: path.resolve(baseDir, doc.tls.key),
      clientCa: doc.tls.client_ca === null ? null : path.resolve(baseDir, doc.tls.client_ca),
      requireClientCert: doc.tls.require_client_cert,
    },
    /** Logs (docs/observability.md#logs). */
    log: { level: doc.log.level, format: doc.log.format },
    /** Traces (docs/observability.md#traces); otlpEndpoint null: tracing off. */
    telemetry: { otlpEndpoint: doc.telemetry.otlp_endpoint, serviceName: doc.telemetry.service_name },
    datasets: doc.datasets.map((d) => buildDataset(d, baseDir)),
  };
}
