/**
 * The config schema: every key of malt.yaml, its type, range, default and documentation, in one
 * place. The TypeScript types (types.ts) and the reference tables in docs/configuration.md
 * (scripts/gen-config-docs.mjs) are derived from it; load-config.ts parses with it and adds the
 * rules that span several keys. Keys are snake_case as written in YAML; types.ts maps them.
 */
import * as z from 'zod';
import { COLUMN_TYPES } from '../column-types.js';
import { DEFAULTS } from './defaults.js';
import {
  boolean, duration, fraction, fractionPerColumn, integer, oneOf, optionalFraction, optionalInstant,
  optionalDuration, optionalInteger, optionalSection, optionalString, requiredString, section, stringWithDefault,
} from './fields.js';

export const DATASET_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const KEY_PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;
const HOST_PORT = /^[^\s:,]+:\d{1,5}$/;
/** A cluster seed: `host:port`, or `redis://` / `rediss://` with optional credentials (the same on every seed). */
const CLUSTER_SEED = /^(?:[^\s:,/]+:\d{1,5}|rediss?:\/\/(?:[^\s@/,]*@)?[^\s:,/@]+:\d{1,5}\/?)$/;
const seedAuth = (s: string): string => (s.includes('://') ? s.slice(0, s.indexOf('://') + 3) + (s.includes('@') ? s.slice(s.indexOf('://') + 3, s.lastIndexOf('@')) : '') : 'redis://');

export const redisSchema = optionalSection({
  url: optionalString({ doc: 'Redis to use (`redis://` or `rediss://` URL, as ioredis accepts). When neither this nor `REDIS_URL` is set, malt starts its own `redis-server`.', env: 'REDIS_URL' }),
  key_prefix: stringWithDefault(DEFAULTS.keyPrefix, { doc: 'Prefix of every key malt writes (1–64 characters of letters, digits, `_ . : -`). Lets several deployments, or tests, share one Redis.', env: 'MALT_KEY_PREFIX' })
    .refine((s) => KEY_PREFIX.test(s), { error: 'must be 1–64 characters of letters, digits, _ . : -' }),
  cluster: z.preprocess((v) => (v === undefined || v === null ? [] : typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
    z.array(z.string().regex(CLUSTER_SEED, { error: 'must be host:port, or redis:// or rediss:// [user:password@]host:port' }), { error: 'must be a list of host:port seed nodes' })
      .refine((seeds) => new Set(seeds.map(seedAuth)).size <= 1, { error: 'every seed must use the same scheme and credentials (they apply to every node of the cluster)' }))
    .meta({ type: 'list of `host:port`', shownDefault: 'none', doc: 'Seed nodes of a Redis Cluster (`REDIS_CLUSTER`: comma-separated). Set, malt talks to the cluster instead of `url`; the two are exclusive. A seed may be written `redis://user:password@host:port` (password or ACL user) or `rediss://…` (TLS); scheme and credentials must be the same on every seed and apply to every node. See [docs/redis-cluster.md](redis-cluster.md).', env: 'REDIS_CLUSTER' }),
  embedded_dir: stringWithDefault(DEFAULTS.embeddedDir, { type: 'path', doc: 'Where the embedded `redis-server` keeps its data, log (`redis.log`) and unix socket (`redis.sock`). Relative to the config file.' }),
});

export const servingSchema = optionalSection({
  host: stringWithDefault(DEFAULTS.host, { doc: 'Interface HTTP and gRPC listen on. Loopback by default.', env: 'MALT_HOST' }),
  http_port: integer(DEFAULTS.httpPort, 0, 65535, { doc: 'HTTP port; 0 picks a free port.', env: 'MALT_HTTP_PORT' }),
  grpc_port: integer(DEFAULTS.grpcPort, 0, 65535, { doc: 'gRPC port; 0 picks a free port.', env: 'MALT_GRPC_PORT' }),
  grpc_fast_path: boolean(true, { doc: 'Serve the unary reads (`Get`, `BatchGet`, `GetSegments`) from malt\'s own node:http2 handler on the gRPC port, with the same bytes, statuses and metadata; every other call (`Push`, health, reflection) is forwarded to grpc-js. `false`: everything through grpc-js. See the gRPC API section of the README.', env: 'MALT_GRPC_FAST_PATH' }),
  request_timeout_ms: integer(DEFAULTS.requestTimeoutMs, 1, 60_000, { doc: 'Longest a request waits for Redis before failing with `STORE_UNAVAILABLE` (503 / `UNAVAILABLE`). gRPC uses the client\'s deadline when it is shorter.' }),
  max_batch_size: integer(DEFAULTS.maxBatchSize, 1, 100_000, { doc: 'Most entity ids in one batch request; more is `BATCH_TOO_LARGE`.' }),
  max_body_bytes: integer(DEFAULTS.maxBodyBytes, 1024, 64 * 1024 * 1024, { doc: 'Largest HTTP request body; more is `PAYLOAD_TOO_LARGE` (413).' }),
  version_poll_ms: integer(DEFAULTS.versionPollMs, 50, 60_000, { doc: 'How often each replica re-reads the current version pointers, as a backstop to the pub/sub notice sent on every publish and rollback.' }),
  max_pending_reads: integer(DEFAULTS.maxPendingReads, 1, 10_000_000, { doc: 'Most Redis reads (entity × dataset keys) outstanding at once; past it new misses fail at once with `STORE_UNAVAILABLE` instead of queueing behind a stalled Redis.' }),
  breaker_failures: integer(DEFAULTS.breakerFailures, 1, 10_000, { doc: 'Consecutive failed or timed-out Redis reads after which the circuit breaker opens: reads then fail fast (the dataset\'s `fallback` answers) instead of waiting on a dead Redis. See [docs/degraded-modes.md](degraded-modes.md).' }),
  breaker_open_ms: integer(DEFAULTS.breakerOpenMs, 10, 600_000, { doc: 'How long an open circuit breaker refuses Redis reads before it lets one probe read through; the probe\'s success closes it, its failure opens it again.' }),
  admin_token: optionalString({ doc: 'Bearer token for admin calls over HTTP (rollback). Without one, admin calls are allowed only when `host` is loopback.', env: 'MALT_ADMIN_TOKEN' }),
});

export const cacheSchema = optionalSection({
  max_bytes: integer(DEFAULTS.cacheMaxBytes, 0, 64 * 1024 ** 3, { doc: 'Size bound of the in-process result cache, in (approximate) bytes. `0` disables it; there is no unbounded setting.' }),
  negative_ttl_ms: integer(DEFAULTS.cacheNegativeTtlMs, 0, 3_600_000, { doc: 'How long a "no row for this entity" result is cached. `0` does not cache them.' }),
});

export const loaderSchema = optionalSection({
  batch_rows: integer(DEFAULTS.loaderBatchRows, 1, 100_000, { doc: 'Rows a write batch waits for at least (unless it reaches 8 MiB first); batches hold about 16 rows per bucket, at most 65 536, and go out as one HSET per bucket.' }),
  max_batches_in_flight: integer(DEFAULTS.loaderMaxBatchesInFlight, 1, 64, { doc: 'Write batches outstanding at once; with `batch_rows`, bounds loader memory beyond the row group being read.' }),
  lock_ttl_ms: integer(DEFAULTS.loaderLockTtlMs, 1000, 3_600_000, { doc: 'TTL of a dataset\'s load lock; a running load renews it every third of the TTL.' }),
  reclaim_grace_ms: integer(DEFAULTS.loaderReclaimGraceMs, 0, 86_400_000, { doc: 'How long a version stays in Redis after it stopped being served before reclaim may delete it.' }),
  workers: integer(DEFAULTS.loaderWorkers, 0, 16, { doc: 'Worker threads that decode and encode row groups (features datasets). 0 (auto): one per CPU malt may use (its cores, capped by a container\'s cgroup CPU quota), at most 4, for tables of at least 100 000 rows and 2 row groups; 1: decode and encode on the main thread. The loaded keyspace is the same whatever the count.' }),
});

export const s3Schema = optionalSection({
  region: optionalString({ doc: 'AWS region of the buckets; else `AWS_REGION` / the SDK\'s default chain.' }),
  endpoint: optionalString({ doc: 'S3-compatible endpoint URL (MinIO, Ceph, R2), e.g. `http://127.0.0.1:9000`.' })
    .refine((s) => s === null || /^https?:\/\/[^\s/]+/.test(s), { error: (iss) => `must be an http(s) URL, got ${JSON.stringify(iss.input)}` }),
  force_path_style: boolean(false, { doc: 'Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key` (most S3-compatible servers need it).' }),
});

export const sourceSchema = section({
  format: oneOf(['parquet', 'delta'], 'parquet', { doc: '`parquet`: a file, a folder (Hive `k=v/` levels become columns) or a glob. `delta`: a Delta Lake table root.' }),
  uri: requiredString({ doc: 'Local path (relative to the config file) or `s3://bucket/prefix`.' }),
  version: optionalInteger(0, Number.MAX_SAFE_INTEGER, { range: '≥ 0', doc: 'Delta only: load this table version (time travel). Default: the latest.' }),
  as_of: optionalInstant({ doc: 'Delta only: load the latest version committed at or before this time.' }),
  partition: oneOf(['all', 'latest'], 'all', { doc: 'Parquet only: `latest` loads only the greatest value of the first partition level (e.g. the newest `dt=`).' }),
  require_success_marker: boolean(false, { doc: 'Parquet only: load only when Spark\'s `_SUCCESS` marker is present (else `SOURCE_NOT_READY`).' }),
}, { doc: 'Where the dataset comes from. See [Sources](#sources).', shownDefault: 'required' });

export const checksSchema = optionalSection({
  min_rows: integer(DEFAULTS.minRows, 0, Number.MAX_SAFE_INTEGER, { range: '≥ 0', doc: 'Fewest rows a load may publish.' }),
  max_rejected_fraction: fraction(DEFAULTS.maxRejectedFraction, { doc: 'Largest fraction of rows the load may reject (bad key, duplicate handling aside).' }),
  max_row_drop_fraction: optionalFraction({ doc: 'Refuse a load whose row count drops by more than this fraction vs the served version.' }),
  max_null_fraction: fractionPerColumn({ doc: 'Largest fraction of nulls in a served column: one number for every column, or a mapping column → fraction.' }),
  allow_schema_change: boolean(false, { doc: 'When false, a column that disappears or changes type vs the served version refuses the load.' }),
}, { doc: 'Conditions a finished load must meet to be published. See [Checks](#checks).', shownDefault: 'see below' });

export const syncSchema = optionalSection({
  interval: duration(DEFAULTS.syncIntervalMs, 1000, 7 * 86_400_000, { doc: 'How often `malt sync` checks the source for a new snapshot (`30s`, `5m`, `1h`, or milliseconds).' }),
  jitter: fraction(DEFAULTS.syncJitter, { doc: 'Each wait is the interval × (1 ± jitter × random), so replicas do not poll in step.' }),
}, { doc: '`malt sync` polling. See [docs/sync.md](sync.md).', shownDefault: 'see below' });

export const consumeSchema = optionalSection({
  group: stringWithDefault(DEFAULTS.consumeGroup, { doc: 'Consumer group `malt consume` reads every `updates_stream` with; consumers in one group share the work.' }),
  consumer: optionalString({ shownDefault: '`<hostname>-<pid>`', doc: 'This consumer\'s name in the group (unique per running process); `malt consume --consumer` overrides it.' }),
  batch_size: integer(DEFAULTS.consumeBatchSize, 1, 10_000, { doc: 'Most entries read (and applied in one write) per stream at a time.' }),
  block_ms: integer(DEFAULTS.consumeBlockMs, 10, 60_000, { doc: 'Longest one read waits for new entries.' }),
  claim_idle_ms: integer(DEFAULTS.consumeClaimIdleMs, 100, 86_400_000, { doc: 'Entries delivered to a consumer and not acknowledged for this long are claimed (XAUTOCLAIM) by another, on start and every `claim_idle_ms`.' }),
}, { doc: '`malt consume`. See [docs/consume.md](consume.md).', shownDefault: 'see below' });

export const updatesSchema = optionalSection({
  enabled: boolean(false, { doc: 'Accept real-time per-entity updates for this dataset (`POST /v1/datasets/:name/updates`, gRPC `Push`, `malt consume`). Off: reads cost nothing extra. See [docs/updates.md](updates.md).' }),
  retention: duration(DEFAULTS.updatesRetentionMs, 60_000, 30 * 86_400_000, { doc: 'How long an update is kept after its event time (`30m`, `168h`, or milliseconds; at most 30 days). Older updates are refused on write and expire from Redis; a served version older than this is reported, since updates newer than it may have expired.' }),
  max_batch: integer(DEFAULTS.updatesMaxBatch, 1, 10_000, { doc: 'Most updates in one push (HTTP or gRPC) or one consumed batch; more is `BATCH_TOO_LARGE`.' }),
}, { doc: 'Real-time updates. See [docs/updates.md](updates.md).', shownDefault: 'see below' });

export const kafkaTlsSchema = optionalSection({
  enabled: boolean(false, { doc: 'Connect to the brokers over TLS. Setting `ca`, `cert` or `key` turns it on too.' }),
  ca: optionalString({ type: 'path', doc: 'PEM CA bundle the brokers\' certificates are verified against (default: Node\'s bundled CAs).' }),
  cert: optionalString({ type: 'path', doc: 'PEM client certificate (mutual TLS), with `key`.' }),
  key: optionalString({ type: 'path', doc: 'PEM private key of `cert`.' }),
  server_name: optionalString({ doc: 'TLS server name (SNI) to send and verify, when it differs from the broker host.' }),
  reject_unauthorized: boolean(true, { doc: 'Refuse brokers whose certificate does not verify. Turn off only for tests.' }),
}, { doc: 'TLS to the brokers; see the `updates_kafka.tls` table.', shownDefault: 'plaintext' });

export const kafkaSaslSchema = optionalSection({
  mechanism: oneOf(['none', 'PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'], 'none', { doc: 'SASL mechanism; `none`: no SASL.' }),
  username: optionalString({ doc: 'PLAIN and SCRAM user name.' }),
  password_env: stringWithDefault('MALT_KAFKA_PASSWORD', { doc: 'Environment variable holding the PLAIN or SCRAM password (passwords are never written in the config file).' }),
  token_env: stringWithDefault('MALT_KAFKA_TOKEN', { doc: 'Environment variable holding the OAUTHBEARER token.' }),
}, { doc: 'SASL authentication; see the `updates_kafka.sasl` table.', shownDefault: 'none' });

export const updatesKafkaSchema = section({
  brokers: z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
    z.array(z.string().regex(HOST_PORT, { error: 'must be host:port' }), { error: 'must be a list of host:port bootstrap brokers' }).min(1, { error: 'must list at least one host:port' }))
    .meta({ type: 'list of `host:port`', shownDefault: 'required', doc: 'Bootstrap brokers (a list, or one comma-separated string).' }),
  topic: requiredString({ doc: 'Topic of update records (JSON values with the fields of an `updates_stream` entry; the record key may carry the entity id).' }),
  group: optionalString({ shownDefault: '`consume.group`', doc: 'Consumer group; the consumers of one group share the topic\'s partitions.' }),
  client_id: stringWithDefault('malt', { doc: 'Kafka client id (broker logs, quotas).' }),
  dead_letter_topic: optionalString({ shownDefault: 'none: the Redis stream `dead_letter_stream`', doc: 'Topic malformed or refused records are produced to, with the reason in headers. Unset: they are appended to the Redis stream `dead_letter_stream` (default `<topic>:dead`).' }),
  start_from: oneOf(['earliest', 'latest'], 'earliest', { doc: 'Where a group with no committed offset for a partition starts.' }),
  batch_size: integer(500, 1, 10_000, { doc: 'Most records applied in one write (and committed together).' }),
  max_wait_ms: integer(500, 10, 30_000, { doc: 'Longest one fetch waits for new records.' }),
  session_timeout_ms: integer(30_000, 1000, 3_600_000, { doc: 'A consumer that sends no heartbeat for this long leaves the group and its partitions go to the others.' }),
  lag_interval: duration(15_000, 1000, 86_400_000, { doc: 'How often each consumer measures its lag per assigned partition and records it in Redis, where every serving replica\'s `/metrics` reads it (`malt_kafka_lag_*`). A partition not measured for 3 intervals is reported stale. See [docs/kafka.md](kafka.md#lag).' }),
  lag_log_interval: duration(60_000, 1000, 86_400_000, { doc: 'How often each consumer logs its lag per assigned partition (one line, from the newest measurement; at most once per `lag_interval`).' }),
  tls: kafkaTlsSchema,
  sasl: kafkaSaslSchema,
}, { doc: 'Kafka topic `malt consume` reads this dataset\'s updates from. See [docs/kafka.md](kafka.md).' });

export const datasetSchema = section({
  name: requiredString({ doc: 'Dataset name used in the APIs and the CLI; `^[a-z][a-z0-9_]{0,62}$`; unique.' })
    .refine((s) => DATASET_NAME.test(s), { error: (iss) => `"${String(iss.input)}" must match ${DATASET_NAME} (lower-case letters, digits, underscores)` }),
  kind: oneOf(['features', 'segments'], 'features', { doc: 'A features dataset serves typed columns; a segments dataset serves the segments an entity belongs to.' }),
  source: sourceSchema,
  key: requiredString({ doc: 'The key column (the player id): a string or integer column in the lake; a string on the wire.' }),
  columns: z.preprocess(
    (v) => (v === undefined ? null : v),
    z.record(z.string(), z.enum(COLUMN_TYPES, { error: (iss) => `unknown type ${JSON.stringify(iss.input)} (one of: ${COLUMN_TYPES.join(', ')})` }), { error: 'must be a mapping of column name → type' }).nullable(),
  ).meta({ type: 'mapping name → type', shownDefault: 'every non-key column', doc: 'Features only. The columns to serve and their types, in serving order. See [Column types](#column-types).' }),
  defaults: z.preprocess(
    (v) => (v === undefined || v === null ? {} : v),
    z.record(z.string(), z.unknown(), { error: 'must be a mapping of column → value' }),
  ).meta({ type: 'mapping name → value', shownDefault: 'none', doc: 'Features only. A value served (status `DEFAULTED`) when a column is null or the entity has no row. See [Defaults](#defaults).' }),
  keep_versions: integer(DEFAULTS.keepVersions, 2, 100, { doc: 'How many published versions stay in Redis. See [Versions kept](#versions-kept).' }),
  segment_column: optionalString({ shownDefault: 'required for segments', doc: 'Segments only. A string column (one row per entity × segment) or a list-of-strings column.' }),
  checks: checksSchema,
  max_age: optionalDuration(1000, 366 * 86_400_000, { doc: 'Oldest the served snapshot\'s as-of time may be (`26h`, `7d` is `168h`). Older, its values are still served but with status `STALE` instead of `PRESENT`, and counted. See [docs/degraded-modes.md](degraded-modes.md).' }),
  fallback: z.preprocess((v) => (v === undefined || v === null ? [...DEFAULTS.fallback] : v),
    z.array(z.enum(['cached', 'defaults'], { error: (iss) => `unknown fallback ${JSON.stringify(iss.input)} (cached, defaults)` }), { error: 'must be a list of fallbacks: cached, defaults' })
      .refine((l) => new Set(l).size === l.length, { error: 'lists a fallback twice' }))
    .meta({ type: 'list of `cached` \\| `defaults`', shownDefault: '`[cached]`', doc: 'What answers, in this order, when Redis cannot be read in time (down, slow, circuit open): `cached` (this replica\'s cached result, marked `degraded: CACHED`), `defaults` (the configured `defaults`, marked `degraded: DEFAULTS`); after the list, `STORE_UNAVAILABLE`. `[]`: always `STORE_UNAVAILABLE`. See [docs/degraded-modes.md](degraded-modes.md).' }),
  allow_empty: boolean(false, { doc: 'Readiness only: when true, this dataset having no served version does not make the replica unready.' }),
  sync: syncSchema,
  updates: updatesSchema,
  updates_stream: optionalString({ doc: 'Redis Stream `malt consume` reads this dataset\'s updates from (fields `entity_id`, `op`, `values`, `segment`, `event_time`). See [docs/consume.md](consume.md).' }),
  dead_letter_stream: optionalString({ shownDefault: '`<updates_stream>:dead`', doc: 'Redis Stream `malt consume` appends malformed or invalid entries to, with the reason.' }),
  updates_kafka: z.preprocess((v) => (v === undefined ? null : v), updatesKafkaSchema.nullable())
    .meta({ type: 'mapping', shownDefault: 'none', doc: 'Kafka topic `malt consume` reads this dataset\'s updates from; see the `updates_kafka` tables and [docs/kafka.md](kafka.md).' }),
  dead_letter_maxlen: integer(DEFAULTS.deadLetterMaxlen, 1000, 100_000_000, { doc: 'The dead-letter stream is trimmed to about this many entries (`XADD MAXLEN ~`) as `malt consume` appends to it.' }),
  segment_events_stream: optionalString({ doc: 'Segments only. Redis Stream malt appends an entry to whenever an entity enters or leaves a segment (by an update, a stream operation or a load), fields `entity_id`, `segment`, `change` (`enter` \\| `exit`), `version`, `at`. See [docs/updates.md](updates.md#segment-enterexit-events).' }),
  segment_events_maxlen: integer(DEFAULTS.segmentEventsMaxlen, 1000, 100_000_000, { doc: 'The events stream is trimmed to about this many entries (`XADD MAXLEN ~`); also the most events one load holds before it appends them (more are counted as dropped and reported).' }),
});

const API_KEY_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
const SHA256_HASH = /^sha256:[0-9a-fA-F]{64}$/;

export const rateLimitSchema = z.preprocess((v) => (v === undefined ? null : v), section({
  rps: z.number({ error: (iss) => `must be a number of requests per second above 0, at most 1000000, got ${JSON.stringify(iss.input)}` }).gt(0).max(1_000_000)
    .meta({ type: 'number', doc: 'Requests per second the key may make on average (e.g. `0.5`, `200`).', shownDefault: 'required', range: '> 0, ≤ 1000000' }),
  burst: optionalInteger(1, 10_000_000, { shownDefault: '`rps` rounded up', doc: 'Most requests the key may make at once after being idle.' }),
}).nullable()).meta({ type: 'mapping', shownDefault: 'none', doc: 'Per-key token bucket `{rps, burst}`; over it a call is `RATE_LIMITED` (429 / `RESOURCE_EXHAUSTED`).' });

export const apiKeySchema = section({
  name: requiredString({ doc: 'A name for the key (logs, errors); unique; 1–64 letters, digits, `_ . : -`.' })
    .refine((s) => API_KEY_NAME.test(s), { error: 'must be 1–64 characters of letters, digits, _ . : -' }),
  hash: requiredString({ doc: '`sha256:<hex>`: the SHA-256 of the token, in hex (`printf %s "$TOKEN" \\| sha256sum`). The token itself is never configured.' })
    .refine((s) => SHA256_HASH.test(s), { error: 'must be sha256: followed by 64 hex digits (the SHA-256 of the token)' }),
  scopes: z.array(z.enum(['read', 'write', 'admin'], { error: (iss) => `unknown scope ${JSON.stringify(iss.input)} (read, write, admin)` }), { error: 'must be a list of scopes: read, write, admin' })
    .min(1, { error: 'must list at least one scope' }).meta({ type: 'list of `read` \\| `write` \\| `admin`', shownDefault: 'required', doc: '`read`: lookups; `write`: real-time updates; `admin`: rollback and other admin calls. Scopes do not imply one another.' }),
  rate_limit: rateLimitSchema,
});

/** `auth: none` is shorthand for `auth: { mode: none }`. */
export const authSchema = z.preprocess((v) => (v === 'none' ? { mode: 'none' } : v === null || v === undefined ? {} : v), section({
  mode: oneOf(['keys', 'none'], 'keys', { doc: '`keys`: calls need an API key as soon as `keys` lists one (with no keys, malt serves open on a loopback `host` only and refuses to start on any other). `none`: serve without authentication on purpose. `auth: none` is short for `auth: { mode: none }`.', env: 'MALT_AUTH' }),
  keys: z.preprocess((v) => (v === undefined || v === null ? [] : v), z.array(apiKeySchema, { error: 'must be a list of {name, hash, scopes}' }))
    .meta({ type: 'list', shownDefault: 'none', doc: 'The API keys; see the `auth.keys[]` table. `MALT_API_KEYS` (the same list as JSON) replaces it.', env: 'MALT_API_KEYS' }),
})).meta({ doc: 'API keys and scopes. See [docs/security.md](security.md).' });

export const tlsSchema = optionalSection({
  cert: optionalString({ type: 'path', doc: 'PEM certificate chain HTTP and gRPC serve. With `key`, turns TLS on for both; re-read on SIGHUP and when the file changes.' }),
  key: optionalString({ type: 'path', doc: 'PEM private key of `cert`.' }),
  client_ca: optionalString({ type: 'path', doc: 'PEM CA bundle client certificates are verified against; clients are asked for a certificate.' }),
  require_client_cert: boolean(false, { doc: 'Refuse connections without a client certificate signed by `client_ca` (mutual TLS), on HTTP and gRPC.' }),
}, { doc: 'TLS for HTTP and gRPC. See [docs/security.md](security.md).' });

export const logSchema = optionalSection({
  level: oneOf(['debug', 'info', 'warn', 'error'], 'info', { doc: 'Lowest level logged (`debug` adds detail). No level logs a line per request; requests are counted in `/metrics` and traced.', env: 'MALT_LOG_LEVEL' }),
  format: oneOf(['text', 'json'], 'text', { doc: '`text`: `<time> <level> <message> key=value` lines on stderr, for people. `json`: one pino JSON object per line on stderr, for log collectors. See [docs/observability.md](observability.md#logs).', env: 'MALT_LOG_FORMAT' }),
}, { doc: 'Logs of every command. See [docs/observability.md](observability.md#logs).', shownDefault: 'see below' });

export const telemetrySchema = optionalSection({
  otlp_endpoint: optionalString({ doc: 'OTLP/HTTP endpoint traces are exported to (e.g. `http://127.0.0.1:4318`; `/v1/traces` is appended). Unset: no tracing SDK is loaded and tracing costs nothing. See [docs/observability.md](observability.md#traces).', env: 'OTEL_EXPORTER_OTLP_ENDPOINT' })
    .refine((s) => s === null || /^https?:\/\/[^\s/]+/.test(s), { error: (iss) => `must be an http(s) URL, got ${JSON.stringify(iss.input)}` }),
  service_name: stringWithDefault('malt', { doc: 'The `service.name` resource attribute of exported spans.', env: 'OTEL_SERVICE_NAME' }),
}, { doc: 'Tracing (OpenTelemetry). See [docs/observability.md](observability.md#traces).', shownDefault: 'see below' });

export const configSchema = section({
  redis: redisSchema,
  serving: servingSchema,
  cache: cacheSchema,
  loader: loaderSchema,
  s3: s3Schema,
  consume: consumeSchema,
  auth: authSchema,
  tls: tlsSchema,
  log: logSchema,
  telemetry: telemetrySchema,
  datasets: z.array(datasetSchema, { error: 'must be a non-empty list' }).min(1, { error: 'must be a non-empty list' }),
});

export type ConfigDocument = z.output<typeof configSchema>;
export type DatasetDocument = z.output<typeof datasetSchema>;
