/**
 * A real S3-compatible server for the tests: fauxqs, run as a child process under Node 24
 * (node24Binary(); fauxqs needs node:sqlite) on a free 127.0.0.1 port, stopped by PID.
 * Static test credentials: the helper sets AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_REGION in this process's environment when they are unset, so stores built on the SDK's
 * default credential chain sign their requests with them (fauxqs accepts any signature).
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { node24Binary } from './node24.js';

export const TEST_ACCESS_KEY_ID = 'AKIAMALTTESTKEY00000';
export const TEST_SECRET_ACCESS_KEY = 'malt-test-secret-key-not-a-real-one';

export interface S3Request {
  readonly method: string;
  readonly url: string;
  readonly range: string | null;
}

export interface TestS3Server {
  /** `http://127.0.0.1:<port>`: use with forcePathStyle. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** A client on the endpoint with the static test credentials. */
  readonly client: S3Client;
  stop(): Promise<void>;
  createBucket(name: string): Promise<void>;
  putObject(bucket: string, key: string, body: string | Uint8Array): Promise<void>;
  /**
   * Uploads every file below `localDir` (those whose relative path `include` accepts) to
   * `s3://bucket/prefix/<relative path>`; returns the keys.
   */
  uploadDir(localDir: string, bucket: string, prefix: string, include?: (relativePath: string) => boolean): Promise<string[]>;
  /** Every S3 request the server has answered since the last clearRequests(). */
  requests(): Promise<S3Request[]>;
  clearRequests(): Promise<void>;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3-server-child.mjs');

async function* walk(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(full);
    else if (e.isFile()) yield full;
  }
}

function waitForPort(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`fauxqs did not start in ${timeoutMs} ms`)); }, timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`fauxqs printed ${JSON.stringify(line)} instead of its port`));
      }
    });
    child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`fauxqs exited (${code ?? signal}) before listening`)); });
  });
}

export async function startS3Server(): Promise<TestS3Server> {
  process.env['AWS_ACCESS_KEY_ID'] ??= TEST_ACCESS_KEY_ID;
  process.env['AWS_SECRET_ACCESS_KEY'] ??= TEST_SECRET_ACCESS_KEY;
  process.env['AWS_REGION'] ??= 'us-east-1';
  // This helper's own client would print the SDK's once-per-process Node 20 notice (see s3-store.ts).
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const child = spawn(node24Binary(), [CHILD], {
    cwd: path.dirname(CHILD),
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, FAUXQS_LOGGER: 'false' },
  });
  const port = await waitForPort(child, 20_000);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: TEST_ACCESS_KEY_ID, secretAccessKey: TEST_SECRET_ACCESS_KEY },
  });
  const putObject = async (bucket: string, key: string, body: string | Uint8Array): Promise<void> => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength }));
  };
  return {
    endpoint,
    port,
    pid: child.pid!,
    client,
    putObject,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async uploadDir(localDir, bucket, prefix, include = () => true) {
      const keys: string[] = [];
      for await (const file of walk(localDir)) {
        const rel = path.relative(localDir, file).split(path.sep);
        if (!include(rel.join('/'))) continue;
        const key = [prefix.replace(/\/+$/, ''), ...rel].filter((s) => s !== '').join('/');
        await putObject(bucket, key, await readFile(file));
        keys.push(key);
      }
      return keys;
    },
    async requests() {
      const res = await fetch(`${endpoint}/__requests`);
      return (await res.json()) as S3Request[];
    },
    async clearRequests() {
      await fetch(`${endpoint}/__requests`, { method: 'DELETE' });
    },
    stop: () => new Promise<void>((resolve) => {
      client.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.once('exit', () => { clearTimeout(kill); resolve(); });
      child.kill('SIGTERM');
    }),
  };
}
