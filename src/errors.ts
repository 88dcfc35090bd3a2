/**
 * The one error catalog. Every error a user can see has a stable code, an HTTP status and a gRPC
 * status here; both transports and the CLI map errors through this table only.
 * Codes are part of the public contract (docs/errors.md): never rename one, only add.
 */
/**
 * gRPC status codes, as the gRPC spec numbers them (the same values as @grpc/grpc-js's `status`,
 * test/errors.test.ts checks). Written out, not imported from grpc-js, so that `malt load` and its
 * worker threads, which import this catalog, do not load grpc-js.
 */
export const GrpcStatus = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
} as const;
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

export interface ErrorSpec {
  readonly http: number;
  readonly grpc: GrpcStatus;
  readonly summary: string;
}

export const ERROR_CATALOG = {
  INVALID_ENTITY_ID: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, summary: 'An entity id is empty, longer than 256 bytes, or contains control characters.' },
  INVALID_ARGUMENT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, summary: 'A request field is missing or has the wrong type.' },
  BATCH_TOO_LARGE: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, summary: 'A batch asks for more entities than serving.max_batch_size allows.' },
  MALFORMED_JSON: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, summary: 'The request body is not valid JSON.' },
  NOT_A_SEGMENTS_DATASET: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, summary: 'A segments call named a features dataset.' },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED, summary: 'The request body is larger than serving.max_body_bytes.' },
  DATASET_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, summary: 'No dataset with that name is declared in the config.' },
  VERSION_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, summary: 'The dataset has no published version with that id.' },
  ROUTE_NOT_FOUND: { http: 404, grpc: GrpcStatus.UNIMPLEMENTED, summary: 'No such HTTP route.' },
  NO_PREVIOUS_VERSION: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'Rollback needs an older published version, and there is none.' },
  LOAD_IN_PROGRESS: { http: 409, grpc: GrpcStatus.ABORTED, summary: 'Another loader holds this dataset\'s load lock.' },
  DATASET_NOT_LOADED: { http: 503, grpc: GrpcStatus.UNAVAILABLE, summary: 'The dataset is declared but no version has been published yet: run `malt load`.' },
  STORE_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE, summary: 'Redis is unreachable, did not answer within the request deadline, has too many reads pending, or the circuit breaker is open; and the dataset\'s `fallback` had no answer (docs/degraded-modes.md).' },
  SHUTTING_DOWN: { http: 503, grpc: GrpcStatus.UNAVAILABLE, summary: 'This replica is shutting down; retry on another.' },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED, summary: 'The call has no API key, or one that matches no configured key (`Authorization: Bearer <token>` on HTTP, `authorization` metadata on gRPC); or an admin call without the right `serving.admin_token`. See docs/security.md.' },
  PERMISSION_DENIED: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED, summary: 'The API key is valid but lacks the scope the call needs (`read`, `write` or `admin`). See docs/security.md.' },
  RATE_LIMITED: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED, summary: 'The API key used up its `rate_limit` (requests per second with a burst); retry after the time in the message (HTTP also sends `Retry-After`).' },
  ADMIN_DISABLED: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED, summary: 'Admin calls over HTTP are off: the server listens beyond loopback and serving.admin_token is not set.' },
  CONFIG_INVALID: { http: 500, grpc: GrpcStatus.INTERNAL, summary: 'The configuration file or environment has problems (all are listed).' },
  SOURCE_NOT_FOUND: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The dataset source matched no Parquet files.' },
  SOURCE_UNREADABLE: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'A source file could not be read as Parquet (corrupt or truncated).' },
  SCHEMA_MISMATCH: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'A declared column is missing from a source file or has a type that cannot be converted.' },
  CHECK_FAILED: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The load finished but one of the dataset\'s checks refused it; nothing was published.' },
  SERVER_UNREACHABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE, summary: '`malt get` could not reach a malt server at the given address.' },
  REDIS_SERVER_MISSING: { http: 500, grpc: GrpcStatus.INTERNAL, summary: 'No Redis URL is configured and redis-server is not installed.' },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL, summary: 'An unexpected error; the log has details.' },
  LOAD_INTERRUPTED: { http: 503, grpc: GrpcStatus.CANCELLED, summary: 'The load was interrupted (Ctrl+C, SIGTERM or an aborted signal); nothing was published and the lock was released.' },
  HEADERS_TOO_LARGE: { http: 431, grpc: GrpcStatus.RESOURCE_EXHAUSTED, summary: 'The request line (URL) or headers are larger than the server accepts.' },
  DELTA_UNSUPPORTED: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The Delta table needs a reader version or reader feature malt does not implement (the message names the table, version and feature).' },
  DELTA_LOG_INVALID: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The Delta log cannot be replayed exactly: no _delta_log, no protocol or metaData, non-contiguous or missing commits, or a corrupt checkpoint.' },
  DELETION_VECTOR_INVALID: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'A Delta deletion vector is missing or corrupt (bad magic, version, size or checksum); the table is refused rather than served with deleted rows.' },
  SOURCE_NOT_READY: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The source folder has no _SUCCESS marker yet and source.require_success_marker is set.' },
  SOURCE_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE, summary: 'The object store (S3) kept failing: throttled, 5xx, network errors or timeouts on every attempt; retry later.' },
  SOURCE_ACCESS_DENIED: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The object store refused malt\'s credentials or permissions (needs s3:ListBucket and s3:GetObject), or no credentials were found.' },
  SOURCE_LAYOUT_INVALID: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The Parquet source\'s Hive partition folders (k=v/) disagree across files (different keys, order or depth), or partition: latest found no partition folder.' },
  UPDATE_INVALID: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, summary: 'A pushed batch of updates has invalid items (listed per item in `error.items`: index, code, message); nothing of the batch was applied.' },
  UPDATES_DISABLED: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, summary: 'The dataset does not accept real-time updates: set `updates.enabled: true` for it in the config.' },
  KAFKA_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE, summary: '`malt consume` could not join its consumer group on the `updates_kafka` brokers (unreachable, TLS or SASL refused, or no such topic); see docs/kafka.md.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class MaltError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, details: readonly string[] = []) {
    super(message);
    this.name = 'MaltError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_CATALOG[this.code].http;
  }

  get grpcStatus(): GrpcStatus {
    return ERROR_CATALOG[this.code].grpc;
  }
}

/** Errors ioredis raises when Redis cannot be reached (as opposed to a command's own error reply). */
const REDIS_CONNECTION_ERROR = /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|Command timed out|Reached the max retries|enableOfflineQueue/;

/** Normalises anything thrown into a MaltError; Redis connection failures become STORE_UNAVAILABLE, others INTERNAL. */
export function toMaltError(err: unknown): MaltError {
  if (err instanceof MaltError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && (err.name === 'MaxRetriesPerRequestError' || REDIS_CONNECTION_ERROR.test(message))) {
    return new MaltError('STORE_UNAVAILABLE', `Redis is unreachable: ${message}`);
  }
  return new MaltError('INTERNAL', message);
}

/** The HTTP error body: {"error": {"code": "...", "message": "..."}}. */
export function errorBody(err: MaltError): string {
  const body: { code: ErrorCode; message: string; details?: readonly string[] } = { code: err.code, message: err.message };
  if (err.details.length > 0) body.details = err.details;
  return JSON.stringify({ error: body });
}
