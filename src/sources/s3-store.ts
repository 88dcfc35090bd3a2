/**
 * The ObjectStore over S3 and S3-compatible servers (MinIO, Ceph, R2), on @aws-sdk/client-s3.
 * Reads are ranged GETs only: open() gives hyparquet an AsyncBuffer whose slice() fetches just
 * the bytes asked for (footer, then the needed column chunks) and keeps nothing. Credentials
 * come from the SDK's default chain (env, shared config/SSO profiles, web identity, ECS/EC2
 * roles). See docs/s3.md.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { MaltError } from '../errors.js';
import type { AsyncBuffer, ListOptions, ObjectInfo, ObjectStore } from './object-store.js';
import { displayEndpoint } from './s3-errors.js';
import { DEFAULT_REQUEST_POLICY, RequestGate, type RequestPolicy, sendWithRetries } from './s3-requests.js';
import { dirPrefix, formatS3Uri, joinS3, parseS3Uri } from './s3-uri.js';

export interface S3StoreOptions {
  /** Default: AWS_REGION, else 'us-east-1'. */
  readonly region?: string | null;
  /** S3-compatible endpoint URL; default: AWS's own for the region. */
  readonly endpoint?: string | null;
  /** Path-style addressing (endpoint/bucket/key); default false. */
  readonly forcePathStyle?: boolean;
  /** Overrides of DEFAULT_REQUEST_POLICY (16 in flight, 5 attempts, 30 s per attempt). */
  readonly policy?: Partial<RequestPolicy>;
}

/** ETag without its quotes. */
function etagOf(raw: string | undefined): string | null {
  return raw === undefined ? null : raw.replace(/^"|"$/g, '');
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

function before(a: string, b: string): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0;
}

/**
 * The SDK warns once per process on Node < 22 that future SDK releases will need Node 22. malt
 * pins an SDK minor that supports Node 20, so the warning tells operators nothing they can act
 * on; it stays visible for anyone who sets the variable to 'false'.
 */
function silenceNodeVersionWarning(): void {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
}

export class S3ObjectStore implements ObjectStore {
  readonly scheme = 's3' as const;
  readonly region: string;
  readonly endpoint: string | null;
  readonly policy: RequestPolicy;
  private readonly client: S3Client;
  private readonly gate: RequestGate;

  constructor(options: S3StoreOptions = {}) {
    silenceNodeVersionWarning();
    this.region = options.region ?? process.env['AWS_REGION'] ?? 'us-east-1';
    this.endpoint = options.endpoint ?? null;
    this.policy = { ...DEFAULT_REQUEST_POLICY, ...options.policy };
    this.gate = new RequestGate(this.policy.maxInFlight);
    this.client = new S3Client({
      region: this.region,
      ...(this.endpoint !== null ? { endpoint: this.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      // Retries are ours (s3-requests.ts): one attempt per SDK call.
      maxAttempts: 1,
    });
  }

  /** Requests in flight right now (for tests and metrics). */
  get inFlight(): number {
    return this.gate.inFlight;
  }

  /** Closes the SDK's keep-alive sockets. */
  close(): void {
    this.client.destroy();
  }

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const { bucket, key } = parseS3Uri(dir);
    const prefix = dirPrefix(key);
    let startAfter: string | undefined;
    if (options.startAfter !== undefined) {
      const from = options.startAfter.startsWith(`s3://${bucket}/`) ? parseS3Uri(options.startAfter).key : null;
      if (from === null) {
        // Another bucket: everything here sorts either wholly after or wholly before it.
        if (!before(options.startAfter, `s3://${bucket}/`)) return;
      } else {
        startAfter = from;
      }
    }
    let token: string | undefined;
    let previous: Buffer | null = null;
    do {
      const page = await this.send(`LIST ${formatS3Uri({ bucket, key: prefix })}`, (abortSignal) => this.client.send(new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(options.recursive ? {} : { Delimiter: '/' }),
        ...(token !== undefined ? { ContinuationToken: token } : startAfter !== undefined ? { StartAfter: startAfter } : {}),
      }), { abortSignal }));
      for (const o of page.Contents ?? []) {
        // Keys ending in '/' are folder markers (S3 console, Hadoop), not files.
        if (o.Key === undefined || o.Key.endsWith('/')) continue;
        // Readers rely on byte order (the Delta log's versions, startAfter resumption); a server
        // that pages in another order also skips or repeats keys across pages, so refuse it.
        const current = Buffer.from(o.Key);
        if (previous !== null && Buffer.compare(previous, current) >= 0) {
          throw new MaltError('SOURCE_UNREADABLE', `LIST ${formatS3Uri({ bucket, key: prefix })}: the server listed ${JSON.stringify(o.Key)} after ${JSON.stringify(previous.toString())}, out of byte order (an S3-compatible server bug); refusing an unreliable listing`);
        }
        previous = current;
        yield { location: formatS3Uri({ bucket, key: o.Key }), size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0, etag: etagOf(o.ETag) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async head(location: string): Promise<ObjectInfo | null> {
    const { bucket, key } = parseS3Uri(location);
    try {
      const r = await this.send(`HEAD ${location}`, (abortSignal) => this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }));
      return { location, size: r.ContentLength ?? 0, mtimeMs: r.LastModified?.getTime() ?? 0, etag: etagOf(r.ETag) };
    } catch (err) {
      if (err instanceof MaltError && err.code === 'SOURCE_NOT_FOUND') return null;
      throw err;
    }
  }

  async read(location: string, start?: number, end?: number): Promise<Uint8Array> {
    return (await this.readVersion(location, start, end, null)).bytes;
  }

  /**
   * An AsyncBuffer of ranged GETs. Every slice after the first is pinned (If-Match) to the ETag
   * the first one saw (or the HEAD's), so an object overwritten mid-read fails with
   * SOURCE_UNREADABLE instead of mixing bytes of two versions.
   */
  async open(location: string, size?: number): Promise<AsyncBuffer> {
    let byteLength = size;
    let pinned: string | null = null;
    if (byteLength === undefined) {
      const info = await this.head(location);
      if (info === null) throw new MaltError('SOURCE_NOT_FOUND', `${location} does not exist`);
      byteLength = info.size;
      pinned = info.etag;
    }
    const length = byteLength;
    return {
      byteLength: length,
      slice: async (start: number, end: number = length): Promise<ArrayBuffer> => {
        const s = start < 0 ? Math.max(0, length + start) : Math.min(start, length);
        const e = end < 0 ? Math.max(0, length + end) : Math.min(end, length);
        const got = await this.readVersion(location, s, Math.max(s, e), pinned);
        pinned ??= got.etag;
        return toArrayBuffer(got.bytes);
      },
    };
  }

  private async readVersion(location: string, start: number | undefined, end: number | undefined, ifMatch: string | null): Promise<{ bytes: Uint8Array; etag: string | null }> {
    const { bucket, key } = parseS3Uri(location);
    const from = start ?? 0;
    if (end !== undefined && end <= from) return { bytes: new Uint8Array(0), etag: null };
    // HTTP ranges are inclusive; [from, end) is bytes=from-(end-1).
    const range = start === undefined && end === undefined ? undefined : `bytes=${from}-${end === undefined ? '' : end - 1}`;
    const got = await this.send(`GET ${location}${range !== undefined ? ` ${range}` : ''}`, async (abortSignal) => {
      try {
        const r = await this.client.send(new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          ...(range !== undefined ? { Range: range } : {}),
          ...(ifMatch !== null ? { IfMatch: `"${ifMatch}"` } : {}),
        }), { abortSignal });
        return { bytes: r.Body === undefined ? new Uint8Array(0) : await r.Body.transformToByteArray(), etag: etagOf(r.ETag) };
      } catch (err) {
        // A range starting at or past the end: the same short read as on local disk.
        if ((err as { name?: string }).name === 'InvalidRange') return { bytes: new Uint8Array(0), etag: null };
        throw err;
      }
    });
    // A server that ignores Range answers 200 with the whole object: keep only what was asked.
    const want = end === undefined ? undefined : end - from;
    return want !== undefined && got.bytes.length > want ? { bytes: got.bytes.subarray(0, want), etag: got.etag } : got;
  }

  join(base: string, ...parts: string[]): string {
    return joinS3(base, ...parts);
  }

  private send<T>(what: string, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const where = this.endpoint !== null ? `${what} (endpoint ${displayEndpoint(this.endpoint)})` : what;
    return sendWithRetries(this.gate, this.policy, where, (failure) => this.secrets(failure), attempt);
  }

  /** The resolved credentials, so no error message can carry them (see s3-errors.ts). */
  private async secrets(failure: unknown): Promise<string[]> {
    const env = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'].map((k) => process.env[k] ?? '');
    // When resolving credentials is what failed, asking again would only repeat the slow chain.
    if ((failure as { name?: string } | null)?.name === 'CredentialsProviderError') return env.filter((s) => s !== '');
    try {
      const id = await this.client.config.credentials();
      return [...env, id.accessKeyId, id.secretAccessKey, id.sessionToken ?? ''].filter((s) => s !== '');
    } catch {
      return env.filter((s) => s !== '');
    }
  }
}
