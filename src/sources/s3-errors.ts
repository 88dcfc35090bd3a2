/**
 * Turns what the AWS SDK throws into a catalog error, and says whether another attempt may help.
 * Messages are built here from the S3 error code and HTTP status, never from request data, and
 * any server text included is scrubbed of credentials: an S3-compatible server may echo request
 * headers (the session token travels in one) into its error message.
 */
import { type ErrorCode, MaltError } from '../errors.js';

export interface S3Failure {
  readonly retryable: boolean;
  readonly code: ErrorCode;
  /** Why, without the location (the caller prefixes the operation and location). */
  readonly reason: string;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

const THROTTLED = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled']);
const TRANSIENT = new Set(['InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError']);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'UND_ERR_SOCKET']);
const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'AllAccessDisabled', 'AccountProblem', 'Forbidden']);
const MISSING = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);

/** Longest piece of server text kept in a message. */
const MAX_SERVER_TEXT = 200;

/** Credential-shaped text: access key ids, SigV4 credential scopes and signatures, security tokens. */
const SECRET_PATTERNS: readonly RegExp[] = [
  /\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b/g,
  /(Credential=)[^,\s&"<]+/gi,
  /(Signature=)[^,\s&"<]+/gi,
  /(X-Amz-Security-Token[=:]\s*)[^,\s&"<]+/gi,
  /(Authorization[=:]\s*)[^\n"<]+/gi,
];

/** Removes `secrets` (exact strings, e.g. the resolved credentials) and credential-shaped text. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  for (const re of SECRET_PATTERNS) out = out.replace(re, (_m, prefix?: string) => `${typeof prefix === 'string' ? prefix : ''}[redacted]`);
  return out;
}

/** The endpoint as shown in messages: without user:password@. */
export function displayEndpoint(endpoint: string): string {
  return endpoint.replace(/^(https?:\/\/)[^@/]*@/, '$1');
}

function serverText(e: SdkErrorShape, secrets: readonly string[]): string {
  const raw = typeof e.message === 'string' ? e.message : '';
  if (raw === '' || raw === 'UnknownError' || raw === e.name) return '';
  const clean = redact(raw, secrets).replace(/\s+/g, ' ').trim();
  return `: ${clean.length > MAX_SERVER_TEXT ? `${clean.slice(0, MAX_SERVER_TEXT)}…` : clean}`;
}

/** Classifies one failed attempt. `timedOutMs` is set when our own per-request timeout aborted it. */
export function classifyS3Error(err: unknown, secrets: readonly string[], timedOutMs: number | null): S3Failure {
  if (timedOutMs !== null) return { retryable: true, code: 'SOURCE_UNAVAILABLE', reason: `no answer within ${timedOutMs} ms` };
  if (err instanceof MaltError) return { retryable: false, code: err.code, reason: err.message };
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as SdkErrorShape;
  const name = e.Code ?? e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const http = status !== undefined ? ` (HTTP ${status})` : '';
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? '')) {
    return { retryable: false, code: 'SOURCE_ACCESS_DENIED', reason: 'no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role)' };
  }
  if (MISSING.has(name) || status === 404) {
    return { retryable: false, code: 'SOURCE_NOT_FOUND', reason: name === 'NoSuchBucket' ? 'the bucket does not exist' : 'no such object' };
  }
  if (name === 'PreconditionFailed' || status === 412) {
    return { retryable: false, code: 'SOURCE_UNREADABLE', reason: 'the object changed while being read (its ETag no longer matches); the next load will see the new version' };
  }
  if (DENIED.has(name) || status === 403 || status === 401) {
    return { retryable: false, code: 'SOURCE_ACCESS_DENIED', reason: `access denied: ${name}${http}${serverText(e, secrets)} (malt needs s3:ListBucket and s3:GetObject)` };
  }
  if (THROTTLED.has(name) || status === 429 || status === 503) return { retryable: true, code: 'SOURCE_UNAVAILABLE', reason: `throttled: ${name}${http}` };
  if (TRANSIENT.has(name) || (status !== undefined && status >= 500)) return { retryable: true, code: 'SOURCE_UNAVAILABLE', reason: `server error: ${name}${http}` };
  if ((e.code !== undefined && NETWORK.has(e.code)) || /socket hang up|ECONNRESET|premature close|aborted/i.test(e.message ?? '')) {
    return { retryable: true, code: 'SOURCE_UNAVAILABLE', reason: `network error: ${e.code ?? name}${serverText(e, secrets)}` };
  }
  return { retryable: false, code: 'SOURCE_UNREADABLE', reason: `${name}${http}${serverText(e, secrets)}` };
}
