/**
 * S3ObjectStore against a real S3-compatible server (fauxqs, run under Node 24 by
 * test/support/s3-server.ts), plus real misbehaving HTTP servers for throttling, timeouts,
 * concurrency and credential scrubbing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaltError } from '../src/errors.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { resolveDeltaSnapshot } from '../src/sources/delta/delta-table.js';
import { LocalObjectStore } from '../src/sources/local-store.js';
import { resolveParquetSnapshot } from '../src/sources/parquet-source.js';
import { closeObjectStores, objectStoreFor } from '../src/sources/object-store-for.js';
import type { ObjectInfo, ObjectStore } from '../src/sources/object-store.js';
import { LazyS3ObjectStore } from '../src/sources/lazy-s3-store.js';
import { S3ObjectStore, type S3StoreOptions } from '../src/sources/s3-store.js';
import { s3ErrorXml, startFaultProxy, startSilentServer } from './support/http-faults.js';
import { NODE24_PATH, node24Binary } from './support/node24.js';
import { startS3Server, type TestS3Server } from './support/s3-server.js';

const repo = path.resolve(import.meta.dirname, '..');
const DELTA_TABLE = path.resolve(repo, '../shared/testdata/delta-spark/basic-dv-no-checkpoint');
const BUCKET = 'malt-test';

let s3: TestS3Server;
const stores: S3ObjectStore[] = [];

function storeOn(endpoint: string, policy: S3StoreOptions['policy'] = {}): S3ObjectStore {
  const store = new S3ObjectStore({ endpoint, forcePathStyle: true, region: 'us-east-1', policy: { baseDelayMs: 5, ...policy } });
  stores.push(store);
  return store;
}

async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of it) out.push(o);
  return out;
}

async function caught(p: Promise<unknown>): Promise<MaltError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(MaltError);
    return err as MaltError;
  }
  throw new Error('expected a MaltError, got success');
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
});

afterAll(async () => {
  for (const s of stores) s.close();
  closeObjectStores();
  await s3?.stop();
});

describe('Node 24 lives outside node_modules/.bin', () => {
  it('npm scripts and npx run on the machine Node, while node24Binary() is a Node 24', () => {
    expect(existsSync(path.join(repo, 'node_modules/.bin/node'))).toBe(false);
    const viaNpx = execFileSync('npx', ['--no-install', 'node', '-p', 'process.version'], { cwd: repo, encoding: 'utf8' }).trim();
    // What npm would run with node_modules/.bin first on the PATH is the machine's own node.
    expect(viaNpx).toBe(execFileSync('node', ['-p', 'process.version'], { encoding: 'utf8' }).trim());
    expect(node24Binary()).toBe(NODE24_PATH);
    expect(execFileSync(node24Binary(), ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()).toMatch(/^24\./);
  });
});

describe('listing', () => {
  const direct = Array.from({ length: 1205 }, (_, i) => `many/k${String(i).padStart(4, '0')}`);
  // Byte order differs from locale order on these (s3-server-child.mjs gives fauxqs S3's order).
  const extra = ['many/Zebra', 'many/_under', 'many/é-accent', 'many/sub/a', 'many/sub/b', 'many/sub/deeper/c'];

  beforeAll(async () => {
    const keys = [...direct, ...extra];
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map((k) => s3.putObject(BUCKET, k, k)));
    }
    await s3.putObject(BUCKET, 'many/marker/', ''); // a folder marker: not a file
    await s3.putObject(BUCKET, 'many-other/x', 'x'); // shares the prefix text, not the folder
  });

  it('pages past 1,000 keys, sorted by bytes, recursive or not', async () => {
    const store = storeOn(s3.endpoint);
    await s3.clearRequests();
    const all = await collect(store.list(`s3://${BUCKET}/many`, { recursive: true }));
    const expected = [...direct, ...extra].map((k) => `s3://${BUCKET}/${k}`).sort(byteOrder);
    expect(all.map((o) => o.location)).toEqual(expected);
    const lists = (await s3.requests()).filter((r) => r.method === 'GET' && r.url.includes('list-type=2'));
    expect(lists.length).toBe(2);
    const first = all[0]!;
    expect(first.size).toBe(Buffer.byteLength(first.location.slice(`s3://${BUCKET}/`.length)));
    expect(first.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(Math.abs(first.mtimeMs - Date.now())).toBeLessThan(600_000);

    const top = await collect(store.list(`s3://${BUCKET}/many/`));
    expect(top.map((o) => o.location)).toEqual(expected.filter((l) => !l.includes('/sub/')));
  });

  it('startAfter resumes after a full location, and a missing folder lists nothing', async () => {
    const store = storeOn(s3.endpoint);
    const after = await collect(store.list(`s3://${BUCKET}/many`, { recursive: true, startAfter: `s3://${BUCKET}/many/k0999` }));
    const expected = [...direct, ...extra].map((k) => `s3://${BUCKET}/${k}`).filter((l) => byteOrder(l, `s3://${BUCKET}/many/k0999`) > 0).sort(byteOrder);
    expect(expected.length).toBe(205 + 4);
    expect(after.map((o) => o.location)).toEqual(expected);
    expect(await collect(store.list(`s3://${BUCKET}/many`, { startAfter: `s3://${BUCKET}/zzz` }))).toEqual([]);
    expect(await collect(store.list(`s3://${BUCKET}/no/such/folder`, { recursive: true }))).toEqual([]);
  });

  it('refuses a listing that is not in byte order (keys would be skipped or repeated across pages)', async () => {
    const xml = (keys: string[]) => `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${BUCKET}</Name><Prefix>many/</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${keys.map((k) => `<Contents><Key>${k}</Key><Size>1</Size><ETag>"0"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>`).join('')}</ListBucketResult>`;
    const proxy = await startFaultProxy(s3.endpoint, () => ({ status: 200, body: xml(['many/b', 'many/Z', 'many/c']) }));
    try {
      const err = await caught(collect(storeOn(proxy.endpoint).list(`s3://${BUCKET}/many`)));
      expect(err.code).toBe('SOURCE_UNREADABLE');
      expect(err.message).toContain('out of byte order');
    } finally {
      await proxy.stop();
    }
  });

  it('a missing bucket is SOURCE_NOT_FOUND naming it', async () => {
    const err = await caught(collect(storeOn(s3.endpoint).list('s3://no-such-bucket-here/x')));
    expect(err.code).toBe('SOURCE_NOT_FOUND');
    expect(err.message).toContain('s3://no-such-bucket-here/x/');
    expect(err.message).toContain('bucket does not exist');
  });
});

describe('reads', () => {
  const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31 + 7) % 251);

  beforeAll(async () => {
    await s3.putObject(BUCKET, 'blob.bin', bytes);
  });

  it('ranged reads return exactly [start, end), the last bytes included', async () => {
    const store = storeOn(s3.endpoint);
    const loc = `s3://${BUCKET}/blob.bin`;
    await s3.clearRequests();
    expect(await store.read(loc, 100, 200)).toEqual(bytes.subarray(100, 200));
    expect(await store.read(loc, 9_990, 10_000)).toEqual(bytes.subarray(9_990));
    expect(await store.read(loc, 9_995)).toEqual(bytes.subarray(9_995));
    expect(await store.read(loc, 9_990, 20_000)).toEqual(bytes.subarray(9_990));
    expect(await store.read(loc, 10_000, 10_010)).toEqual(new Uint8Array(0));
    expect(await store.read(loc, 5, 5)).toEqual(new Uint8Array(0));
    expect(await store.read(loc)).toEqual(bytes);
    const gets = (await s3.requests()).filter((r) => r.method === 'GET');
    expect(gets.map((r) => r.range)).toEqual(['bytes=100-199', 'bytes=9990-9999', 'bytes=9995-', 'bytes=9990-19999', 'bytes=10000-10009', null]);
  });

  it('head: size, etag and mtime; a missing key is null, and reading it is SOURCE_NOT_FOUND', async () => {
    const store = storeOn(s3.endpoint);
    const info = await store.head(`s3://${BUCKET}/blob.bin`);
    expect(info).toMatchObject({ location: `s3://${BUCKET}/blob.bin`, size: 10_000 });
    expect(info!.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(await store.head(`s3://${BUCKET}/nope.bin`)).toBeNull();
    expect(await store.head('s3://no-such-bucket-here/nope.bin')).toBeNull();
    const err = await caught(store.read(`s3://${BUCKET}/nope.bin`, 0, 10));
    expect(err.code).toBe('SOURCE_NOT_FOUND');
    expect(err.message).toContain(`s3://${BUCKET}/nope.bin`);
    expect((await caught(store.open(`s3://${BUCKET}/nope.bin`))).code).toBe('SOURCE_NOT_FOUND');
  });

  it('join builds s3 child locations', () => {
    const store = storeOn(s3.endpoint);
    expect(store.join('s3://b/t', '_delta_log')).toBe('s3://b/t/_delta_log');
    expect(store.join('s3://b/t/', '/_delta_log/', '00.json')).toBe('s3://b/t/_delta_log/00.json');
    expect(store.join('s3://b', 'x')).toBe('s3://b/x');
  });
});

describe('hyparquet over open()', () => {
  const rows = 20_000;
  let localFile: string;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-s3-parquet-'));
    localFile = path.join(dir, 'wide.parquet');
    // An incompressible 300-byte string per row: ~6 MB of payload the reader must not fetch.
    let x = 12345;
    const noise = (): string => Array.from({ length: 300 }, () => { x = (x * 1103515245 + 12345) & 0x7fffffff; return String.fromCharCode(33 + (x % 90)); }).join('');
    writeParquet(localFile, [
      { name: 'id', type: 'int64', data: Array.from({ length: rows }, (_, i) => i) },
      { name: 'payload', type: 'string', data: Array.from({ length: rows }, noise) },
      { name: 'score', type: 'double', data: Array.from({ length: rows }, (_, i) => i / 4) },
    ], { codec: 'UNCOMPRESSED', rowGroupSize: 5_000 });
    await s3.uploadDir(dir, BUCKET, 'parquet');
  });

  it('reads two columns with ranged GETs only, far less than the file', async () => {
    const store = storeOn(s3.endpoint);
    const loc = `s3://${BUCKET}/parquet/wide.parquet`;
    await s3.clearRequests();
    const file = await store.open(loc);
    const size = file.byteLength;
    expect(size).toBeGreaterThan(6_000_000);
    const metadata = await parquetMetadataAsync(file, { initialFetchSize: 64 * 1024 });
    const got = await parquetReadObjects({ file, metadata, columns: ['id', 'score'] });
    expect(got.length).toBe(rows);
    expect(got[12_345]).toEqual({ id: 12_345n, score: 12_345 / 4 });

    const local = await new LocalObjectStore().open(localFile);
    expect(await parquetReadObjects({ file: local, columns: ['id', 'score'] })).toEqual(got);

    const reqs = await s3.requests();
    const gets = reqs.filter((r) => r.method === 'GET');
    expect(reqs.filter((r) => r.method === 'HEAD').length).toBe(1);
    expect(gets.every((r) => r.range !== null)).toBe(true);
    const fetched = gets.reduce((sum, r) => {
      const [a, b] = r.range!.replace('bytes=', '').split('-').map(Number);
      return sum + (b! - a! + 1);
    }, 0);
    expect(fetched).toBeLessThan(size / 5);
  });

  it('an object overwritten between two slices fails instead of mixing versions', async () => {
    const store = storeOn(s3.endpoint);
    const loc = `s3://${BUCKET}/rewritten.bin`;
    await s3.putObject(BUCKET, 'rewritten.bin', 'version one, first write');
    const file = await store.open(loc, 24);
    expect(Buffer.from(await file.slice(0, 7)).toString()).toBe('version');
    await s3.putObject(BUCKET, 'rewritten.bin', 'VERSION TWO, other bytes');
    const err = await caught(Promise.resolve(file.slice(8, 11)));
    expect(err.code).toBe('SOURCE_UNREADABLE');
    expect(err.message).toContain('changed while being read');
    const fresh = await store.open(loc);
    expect(Buffer.from(await fresh.slice(8, 11)).toString()).toBe('TWO');
  });

  it('open(location, size) skips the HEAD', async () => {
    const store = storeOn(s3.endpoint);
    await s3.clearRequests();
    const file = await store.open(`s3://${BUCKET}/blob.bin`, 10_000);
    expect(new Uint8Array(await file.slice(9_998))).toEqual(Uint8Array.from([(9_998 * 31 + 7) % 251, (9_999 * 31 + 7) % 251]));
    expect((await s3.requests()).map((r) => r.method)).toEqual(['GET']);
  });
});

describe('a Delta table on S3', () => {
  it('resolves to the same snapshot as on local disk', async () => {
    const keys = await s3.uploadDir(DELTA_TABLE, BUCKET, 'tables/basic-dv');
    expect(keys).toContain('tables/basic-dv/_delta_log/00000000000000000001.json');
    const onS3 = await resolveDeltaSnapshot(storeOn(s3.endpoint), `s3://${BUCKET}/tables/basic-dv`);
    const onDisk = await resolveDeltaSnapshot(new LocalObjectStore(), DELTA_TABLE);
    const rel = (files: typeof onS3.files, root: string) => files.map((f) => ({ ...f, location: f.location.slice(root.length) }));
    expect(rel(onS3.files, `s3://${BUCKET}/tables/basic-dv`)).toEqual(rel(onDisk.files, DELTA_TABLE));
    expect(onS3.files.length).toBeGreaterThan(0);
    expect(onS3.files.some((f) => f.deletionVector !== null)).toBe(true);
    expect({ v: onS3.version, id: onS3.snapshotId, schema: onS3.schema, protocol: onS3.protocol, ts: onS3.commitTimestampMs })
      .toEqual({ v: onDisk.version, id: onDisk.snapshotId, schema: onDisk.schema, protocol: onDisk.protocol, ts: onDisk.commitTimestampMs });
  });
});

describe('a Hive-partitioned Parquet folder on S3', () => {
  it('resolves to the same files and partition values as on local disk', async () => {
    const table = path.resolve(repo, '../shared/testdata/delta-spark/data-reader-partition-values');
    const noLog = (rel: string): boolean => !rel.startsWith('_delta_log/') && rel.endsWith('.parquet');
    const local = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-s3-hive-'));
    cpSync(table, local, { recursive: true, filter: (src) => { const rel = path.relative(table, src).split(path.sep).join('/'); return rel === '' || statSync(src).isDirectory() ? !rel.startsWith('_delta_log') : noLog(rel); } });
    await s3.uploadDir(table, BUCKET, 'hive/pv', noLog);
    const opts = { partition: 'all', requireSuccessMarker: false } as const;
    const onS3 = await resolveParquetSnapshot(storeOn(s3.endpoint), `s3://${BUCKET}/hive/pv`, opts);
    const onDisk = await resolveParquetSnapshot(new LocalObjectStore(), local, opts);
    const rel = (files: typeof onS3.files, root: string) => files.map((f) => ({ ...f, location: f.location.slice(root.length) }));
    expect(onS3.files).toHaveLength(3);
    expect(rel(onS3.files, `s3://${BUCKET}/hive/pv`)).toEqual(rel(onDisk.files, local));
    expect(onS3.partitionColumns).toEqual(onDisk.partitionColumns);
  });
});

describe('throttling, timeouts and concurrency', () => {
  it('retries 503 SlowDown and then succeeds', async () => {
    await s3.putObject(BUCKET, 'retry.txt', 'hello retry');
    const proxy = await startFaultProxy(s3.endpoint, (n) => (n < 2 ? { status: 503, body: s3ErrorXml('SlowDown', 'Please reduce your request rate.') } : null));
    try {
      const bytes = await storeOn(proxy.endpoint).read(`s3://${BUCKET}/retry.txt`, 0, 5);
      expect(Buffer.from(bytes).toString()).toBe('hello');
      expect(proxy.seen.length).toBe(3);
    } finally {
      await proxy.stop();
    }
  });

  it('gives up after maxAttempts with SOURCE_UNAVAILABLE (429 and 500 alike)', async () => {
    const proxy = await startFaultProxy(s3.endpoint, (n) => ({ status: n % 2 === 0 ? 429 : 500, body: s3ErrorXml(n % 2 === 0 ? 'TooManyRequestsException' : 'InternalError', 'busy') }));
    try {
      const err = await caught(storeOn(proxy.endpoint, { maxAttempts: 4 }).read(`s3://${BUCKET}/retry.txt`, 0, 5));
      expect(err.code).toBe('SOURCE_UNAVAILABLE');
      expect(err.message).toContain('gave up after 4 attempts');
      expect(proxy.seen.length).toBe(4);
    } finally {
      await proxy.stop();
    }
  });

  it('does not retry what cannot succeed (403)', async () => {
    const proxy = await startFaultProxy(s3.endpoint, () => ({ status: 403, body: s3ErrorXml('AccessDenied', 'Access Denied') }));
    try {
      const err = await caught(storeOn(proxy.endpoint).head(`s3://${BUCKET}/retry.txt`));
      expect(err.code).toBe('SOURCE_ACCESS_DENIED');
      expect(err.message).toContain('s3:GetObject');
      expect(proxy.seen.length).toBe(1);
    } finally {
      await proxy.stop();
    }
  });

  it('a server that never answers fails each attempt at the timeout', async () => {
    const silent = await startSilentServer();
    try {
      const started = Date.now();
      const err = await caught(storeOn(silent.endpoint, { timeoutMs: 300, maxAttempts: 2 }).read(`s3://${BUCKET}/x`, 0, 10));
      const elapsed = Date.now() - started;
      expect(err.code).toBe('SOURCE_UNAVAILABLE');
      expect(err.message).toContain('no answer within 300 ms');
      expect(elapsed).toBeGreaterThanOrEqual(550);
      expect(elapsed).toBeLessThan(3_000);
      expect(silent.connections).toBe(2);
    } finally {
      await silent.stop();
    }
  });

  it('the timeout covers a body that stalls after the headers', async () => {
    const stalled = await startSilentServer(true);
    try {
      const started = Date.now();
      const err = await caught(storeOn(stalled.endpoint, { timeoutMs: 300, maxAttempts: 1 }).read(`s3://${BUCKET}/x`));
      expect(err.code).toBe('SOURCE_UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await stalled.stop();
    }
  });

  it('keeps at most maxInFlight requests in flight per store (default 16)', async () => {
    expect(storeOn(s3.endpoint).policy.maxInFlight).toBe(16);
    const proxy = await startFaultProxy(s3.endpoint, () => null, 80);
    try {
      const store = storeOn(proxy.endpoint, { maxInFlight: 4 });
      const parts = await Promise.all(Array.from({ length: 24 }, (_, i) => store.read(`s3://${BUCKET}/blob.bin`, i * 10, i * 10 + 10)));
      expect(parts.every((p) => p.length === 10)).toBe(true);
      expect(proxy.seen.length).toBe(24);
      expect(proxy.maxConcurrent).toBe(4);
      expect(store.inFlight).toBe(0);
    } finally {
      await proxy.stop();
    }
  });
});

describe('credentials never reach a message or the log', () => {
  it('scrubs the access key, secret and session token, even when a server echoes headers', async () => {
    const secret = 'Sup3rS3cretKeyThatMustNeverLeak0000000000';
    const token = 'SessionTokenThatMustNeverLeak1111111111111';
    const keyId = 'AKIALEAKCHECK0000001';
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: keyId, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token });
    const echo = (req: { headers: Record<string, unknown> }) => JSON.stringify(req.headers).replace(/[<>&]/g, ' ');
    const plans = [
      (n: number, req: { headers: Record<string, unknown> }) => ({ status: 403, body: s3ErrorXml('AccessDenied', `denied ${echo(req)} ${n}`) }),
      (_n: number, req: { headers: Record<string, unknown> }) => ({ status: 400, body: s3ErrorXml('WeirdError', `odd ${echo(req)} secret=${secret}`) }),
      (_n: number, req: { headers: Record<string, unknown> }) => ({ status: 503, body: s3ErrorXml('SlowDown', echo(req)) }),
    ];
    const logged: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const writeOut = process.stdout.write.bind(process.stdout);
    process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => { logged.push(String(chunk)); return write(chunk as never, ...(rest as [])); }) as typeof process.stderr.write;
    process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => { logged.push(String(chunk)); return writeOut(chunk as never, ...(rest as [])); }) as typeof process.stdout.write;
    const onWarning = (w: Error): void => { logged.push(`${w.name} ${w.message}`); };
    process.on('warning', onWarning);
    try {
      const errors: MaltError[] = [];
      for (const plan of plans) {
        const proxy = await startFaultProxy(s3.endpoint, plan);
        try {
          const store = storeOn(proxy.endpoint, { maxAttempts: 2 });
          errors.push(await caught(store.read(`s3://${BUCKET}/blob.bin`, 0, 10)));
          errors.push(await caught(collect(store.list(`s3://${BUCKET}/many`))));
          // The server really did receive the token, so the scrubbing is what keeps it out.
          expect(JSON.stringify(proxy.seen)).toContain(token);
        } finally {
          await proxy.stop();
        }
      }
      expect(errors.map((e) => e.code)).toEqual(['SOURCE_ACCESS_DENIED', 'SOURCE_ACCESS_DENIED', 'SOURCE_UNREADABLE', 'SOURCE_UNREADABLE', 'SOURCE_UNAVAILABLE', 'SOURCE_UNAVAILABLE']);
      expect(errors[2]!.message).toContain('WeirdError');
      const everything = [...errors.flatMap((e) => [e.message, String(e.stack), JSON.stringify(e), ...e.details]), ...logged].join('\n');
      for (const s of [secret, token, keyId]) expect(everything).not.toContain(s);
    } finally {
      process.stderr.write = write;
      process.stdout.write = writeOut;
      process.off('warning', onWarning);
      for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});

describe('objectStoreFor', () => {
  const cfg = { region: null, endpoint: 'http://127.0.0.1:1', forcePathStyle: true } as const;

  it('s3:// gets one shared S3 store per endpoint and region; paths get the local store', () => {
    const a = objectStoreFor('s3://bucket/a', cfg);
    // The SDK loads on the store's first request (sources/lazy-s3-store.ts), not here.
    expect(a).toBeInstanceOf(LazyS3ObjectStore);
    expect((a as LazyS3ObjectStore).loaded).toBe(false);
    expect(objectStoreFor('s3://other/b', cfg)).toBe(a);
    expect(objectStoreFor('s3://bucket/a', { ...cfg, endpoint: 'http://127.0.0.1:2' })).not.toBe(a);
    expect(objectStoreFor('s3://bucket/a', { ...cfg, region: 'eu-west-1' })).not.toBe(a);
    expect((objectStoreFor('s3://bucket/a', { ...cfg, region: 'eu-west-1' }) as LazyS3ObjectStore).region).toBe('eu-west-1');
    expect(objectStoreFor('/data/lake/t', cfg)).toBeInstanceOf(LocalObjectStore);
    expect(objectStoreFor('./lake/t', cfg).scheme).toBe('file');
  });

  it.each(['gs://b/t', 'abfss://c@acct.dfs.core.windows.net/t', 'http://host/t', 's3a://b/t'])('refuses %s naming the scheme', (uri) => {
    let err: unknown;
    try {
      objectStoreFor(uri, cfg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MaltError);
    expect((err as MaltError).code).toBe('CONFIG_INVALID');
    expect((err as MaltError).message).toContain(`${uri.split(':')[0]}://`);
  });

  it('works through the interface: a store from objectStoreFor reads from the test server', async () => {
    await s3.putObject(BUCKET, 'via-interface.txt', 'hello');
    const store: ObjectStore = objectStoreFor(`s3://${BUCKET}/via-interface.txt`, { region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true });
    expect(Buffer.from(await store.read(`s3://${BUCKET}/via-interface.txt`, 1)).toString()).toBe('ello');
    expect((store as LazyS3ObjectStore).loaded).toBe(true);
    const listed: string[] = [];
    for await (const o of store.list(`s3://${BUCKET}/`)) listed.push(o.location);
    expect(listed).toContain(`s3://${BUCKET}/via-interface.txt`);
    expect((await store.head(`s3://${BUCKET}/via-interface.txt`))?.size).toBe(5);
    expect(store.join(`s3://${BUCKET}/t`, '_delta_log')).toBe(`s3://${BUCKET}/t/_delta_log`);
  });
});

describe('no credentials anywhere', () => {
  it('is SOURCE_ACCESS_DENIED saying so, without trying the network beyond 127.0.0.1', () => {
    const script = `
      import { S3ObjectStore } from ${JSON.stringify(path.join(repo, 'dist/sources/s3-store.js'))};
      const store = new S3ObjectStore({ endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true, policy: { maxAttempts: 3 } });
      try { await store.head('s3://${BUCKET}/blob.bin'); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
      store.close();`;
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: mkdtempSync(path.join(os.tmpdir(), 'malt-nohome-')) };
    // No env keys, no profiles, and no instance metadata lookups (they would leave 127.0.0.1).
    Object.assign(env, { AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: '/nonexistent/config', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials' });
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { code: string; message: string };
    expect(out.code).toBe('SOURCE_ACCESS_DENIED');
    expect(out.message).toContain('no AWS credentials found');
    expect(out.message).not.toContain('gave up');
  });
});

describe('the AWS SDK Node version warning', () => {
  it('does not print on Node 20 when malt creates a store', async () => {
    await s3.putObject(BUCKET, 'warn.txt', 'ten bytes!');
    const script = `
      import { S3ObjectStore } from ${JSON.stringify(path.join(repo, 'dist/sources/s3-store.js'))};
      const store = new S3ObjectStore({ endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true });
      console.log(JSON.stringify(await store.head('s3://${BUCKET}/warn.txt')));
      store.close();`;
    const env = { ...process.env };
    delete env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).size).toBe(10);
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
  });
});
