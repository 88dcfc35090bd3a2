/**
 * Fuzzing the edges of a real `malt serve` (a child process): random entity ids, query strings,
 * JSON bodies (wrong types, deep nesting, huge arrays, oversize), raw garbage bytes, and garbage
 * protobuf / gRPC framing over HTTP/2. The server must never crash, never answer 5xx while Redis
 * is up, always answer errors with a code from the catalog, keep serving correct values after
 * the barrage, and keep its memory bounded.
 *
 * Reproducible: the PRNG seed is printed on failure; MALT_FUZZ_SEED=<n> replays one and
 * MALT_FUZZ_SEED=random explores new inputs (e.g. `for i in $(seq 20); do MALT_FUZZ_SEED=random npx vitest run test/fuzz-inputs.test.ts; done`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOG } from '../src/errors.js';
import { prng } from '../src/sample/sample-lake.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { MALT_BIN, runMalt } from './support/cli-runner.js';
import { redisUrl, tmpDir, uniquePrefix } from './support/fixtures.js';
import { freePort } from './support/redis-server.js';

// A fixed seed by default so CI is deterministic; MALT_FUZZ_SEED=<n> replays one, =random explores.
const seedEnv = process.env['MALT_FUZZ_SEED'];
const SEED = seedEnv === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(seedEnv ?? 20261203);
const where = `(MALT_FUZZ_SEED=${SEED})`;

const rnd = prng(SEED); // the sample lake's seeded mulberry32
const int = (n: number): number => Math.floor(rnd() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
function bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}
function randomString(max: number): string {
  const alphabets = ['abcXYZ019_-.', '%/?#&=+ \t', 'ü€😀\u0000\u202e', '\\"\'<>{}[]'];
  let s = '';
  const n = int(max + 1);
  for (let i = 0; i < n; i++) { const a = pick(alphabets); s += [...a][int([...a].length)]; }
  return s;
}
function randomJson(depth: number): unknown {
  const k = int(depth > 4 ? 5 : 8);
  switch (k) {
    case 0: return null;
    case 1: return rnd() < 0.5;
    case 2: return pick([0, -1, 1e308, -0, 2 ** 63, Number.MAX_SAFE_INTEGER + 2, 1.5]);
    case 3: return randomString(20);
    case 4: return pick(['p1', 'p2', 'nobody', '', 'players', 'segs', 'upsert', 'delete', 'add', '9999-12-31T23:59:59.999999Z']);
    case 5: return Array.from({ length: int(5) }, () => randomJson(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const keys = ['entity_ids', 'datasets', 'updates', 'entity_id', 'op', 'values', 'segment', 'event_time', 'version', 'ltv', 'level', '__proto__', 'constructor', randomString(8)];
      for (let i = int(5); i > 0; i--) o[pick(keys)] = randomJson(depth + 1);
      return o;
    }
  }
}

const CODES = new Set(Object.keys(ERROR_CATALOG));
/** Statuses an edge may answer with while Redis is healthy; every 5xx is a failure here. */
const ALLOWED = new Set([200, 400, 401, 403, 404, 405, 406, 409, 411, 413, 414, 415, 429, 431]);

let child: ChildProcess;
let base = '';
let grpcAddr = '';
let stderr = '';

/** RSS of the process and its descendants: bin/malt.js may run the server as a child with node flags. */
function rssKiB(pid: number): number {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    try {
      for (const c of readFileSync(`/proc/${tree[i]}/task/${tree[i]}/children`, 'utf8').trim().split(/\s+/)) if (c) tree.push(Number(c));
    } catch { /* exited */ }
  }
  let total = 0;
  for (const p of tree) {
    try { total += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0); } catch { /* exited */ }
  }
  return total;
}

beforeAll(async () => {
  const dir = tmpDir();
  const ids = Array.from({ length: 50 }, (_, i) => `p${i}`);
  writeParquet(path.join(dir, 'players.parquet'), [
    { name: 'player_id', type: 'string', data: ids, nullable: false },
    { name: 'ltv', type: 'double', data: ids.map((_, i) => i + 0.5) },
    { name: 'level', type: 'int64', data: ids.map((_, i) => BigInt(i)) },
    { name: 'tags', type: 'string_list', data: ids.map(() => ['a', 'b']) },
  ]);
  writeParquet(path.join(dir, 'segs.parquet'), [
    { name: 'player_id', type: 'string', data: ids, nullable: false },
    { name: 'segment', type: 'string', data: ids.map((_, i) => (i % 2 ? 'payer' : 'whale')), nullable: false },
  ]);
  const file = path.join(dir, 'malt.json');
  writeFileSync(file, JSON.stringify({
    serving: { max_body_bytes: 65536 },
    datasets: [
      { name: 'players', kind: 'features', source: { format: 'parquet', uri: path.join(dir, 'players.parquet') }, key: 'player_id', columns: { ltv: 'double', level: 'int64', tags: 'string_list' }, updates: { enabled: true } },
      { name: 'segs', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'segs.parquet') }, key: 'player_id', segment_column: 'segment' },
    ],
  }));
  const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: uniquePrefix() };
  for (const d of ['players', 'segs']) expect((await runMalt(['load', d, '-c', file], env)).code).toBe(0);
  const httpPort = await freePort();
  const grpcPort = await freePort();
  base = `http://127.0.0.1:${httpPort}`;
  grpcAddr = `http://127.0.0.1:${grpcPort}`;
  child = spawn(process.execPath, [MALT_BIN, 'serve', '-c', file], { env: { ...process.env, ...env, MALT_HTTP_PORT: String(httpPort), MALT_GRPC_PORT: String(grpcPort) }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d) => { stderr = (stderr + d).slice(-20_000); });
  const deadline = Date.now() + 20_000;
  while ((await fetch(`${base}/readyz`).catch(() => null))?.status !== 200) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`malt serve did not become ready: ${stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

interface Answer { status: number; body: string }
async function send(method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { method, body, headers });
  return { status: res.status, body: await res.text() };
}

function checkAnswer(a: Answer, what: string): void {
  expect(ALLOWED.has(a.status), `${what} answered ${a.status}: ${a.body.slice(0, 300)} ${where}`).toBe(true);
  if (a.status >= 400) {
    let code: unknown;
    try { code = (JSON.parse(a.body) as { error?: { code?: unknown } }).error?.code; } catch { code = undefined; }
    expect(CODES.has(String(code)), `${what} answered ${a.status} without a catalog code: ${a.body.slice(0, 300)} ${where}`).toBe(true);
  }
}

async function stillCorrect(): Promise<void> {
  expect(child.exitCode, `malt serve exited; stderr: ${stderr.slice(-2000)} ${where}`).toBeNull();
  const res = await fetch(`${base}/v1/entities/p7?datasets=players`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { datasets: { features: Record<string, { value: unknown }> }[] };
  expect(body.datasets[0]?.features['level']?.value).toBe('7');
}

describe(`fuzzing the HTTP edge ${where}`, () => {
  it('random entity ids and query strings on every GET route', { timeout: 60_000 }, async () => {
    const routes = ['/v1/entities/ID', '/v1/entities/ID/segments', '/v1/entities/ID/segments/SEG', '/v1/datasets/ID/versions', '/v1/datasets'];
    for (let i = 0; i < 400; i++) {
      const id = rnd() < 0.1 ? 'x'.repeat(int(5000)) : encodeURIComponent(randomString(40));
      const seg = encodeURIComponent(randomString(10)) || 's';
      const q = Array.from({ length: int(4) }, () => `${pick(['datasets', 'dataset', 'x', randomString(5)])}=${encodeURIComponent(pick(['players', 'segs', 'players,segs', ',', randomString(30)]))}`).join('&');
      const url = `${base}${pick(routes).replace('ID', id).replace('SEG', seg)}${q ? `?${q}` : ''}`;
      checkAnswer(await send('GET', url), `GET ${url.slice(0, 200)}`);
    }
    await stillCorrect();
  });

  it('random, deep, huge and non-JSON bodies on every POST route', { timeout: 60_000 }, async () => {
    const routes = ['/v1/entities/batch', '/v1/datasets/players/updates', '/v1/datasets/segs/updates', '/v1/datasets/players/rollback', '/v1/datasets/nope/updates'];
    const json = { 'content-type': 'application/json' };
    for (let i = 0; i < 300; i++) {
      const route = pick(routes);
      const kind = int(6);
      let body: string | Buffer;
      let headers: Record<string, string> = json;
      if (kind === 0) body = JSON.stringify(randomJson(0));
      else if (kind === 1) body = `${'['.repeat(int(20_000) + 1)}${']'.repeat(int(3))}`; // deep, unbalanced
      else if (kind === 2) body = JSON.stringify({ entity_ids: Array.from({ length: int(3000) }, (_, j) => `p${j}`), updates: [] });
      else if (kind === 3) body = bytes(int(2000));
      else if (kind === 4) { body = JSON.stringify(randomJson(0)); headers = { 'content-type': pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', `x/${int(1e6).toString(36)}`]) }; }
      else body = JSON.stringify({ updates: Array.from({ length: int(20) }, () => ({ entity_id: pick(['p1', '', randomString(10)]), op: pick(['upsert', 'delete', 'add', 'remove', 'x']), values: randomJson(3), segment: randomJson(4), event_time: pick(['2020-01-01T00:00:00Z', '10000-01-01T00:00:00Z', randomString(10), 5]) })) });
      checkAnswer(await send('POST', `${base}${route}`, body, headers), `POST ${route} (kind ${kind})`);
    }
    // Over the body limit (64 KiB here) is refused, not buffered without bound.
    checkAnswer(await send('POST', `${base}/v1/entities/batch`, JSON.stringify({ entity_ids: ['x'.repeat(200_000)] }), json), 'oversize body');
    await stillCorrect();
  });
});

describe(`fuzzing the gRPC edge ${where}`, () => {
  function frame(payload: Buffer, compressed = 0, lengthDelta = 0): Buffer {
    const h = Buffer.alloc(5);
    h[0] = compressed;
    h.writeUInt32BE(Math.max(0, payload.length + lengthDelta), 1);
    return Buffer.concat([h, payload]);
  }

  /** One raw gRPC call: returns the grpc-status (trailers, or headers for trailers-only) and malt-error-code. */
  function call(session: http2.ClientHttp2Session, method: string, body: Buffer): Promise<{ status: string | undefined; code: string | undefined; message: string | undefined; http: number | undefined }> {
    return new Promise((resolve) => {
      const req = session.request({ ':method': 'POST', ':path': `/malt.v1.Serving/${method}`, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '2S' });
      let status: string | undefined;
      let code: string | undefined;
      let message: string | undefined;
      let httpStatus: number | undefined;
      const take = (h: http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['malt-error-code'] !== undefined) code = String(h['malt-error-code']);
        if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
      };
      req.on('response', (h) => { httpStatus = Number(h[':status']); take(h); });
      req.on('trailers', take);
      req.on('data', () => undefined);
      req.on('close', () => resolve({ status, code, message, http: httpStatus }));
      req.on('error', () => undefined);
      req.end(body);
    });
  }

  it('garbage protobuf, bad framing and unknown methods never crash it and get coded statuses', { timeout: 60_000 }, async () => {
    const session = http2.connect(grpcAddr);
    session.on('error', () => undefined);
    const methods = ['Get', 'BatchGet', 'GetSegments', 'Push'];
    // Valid GetRequest for p1/players, as a control: field 1 "p1", field 2 "players".
    const valid = Buffer.from([0x0a, 0x02, 0x70, 0x31, 0x12, 0x07, ...Buffer.from('players')]);
    const seen = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const method = rnd() < 0.05 ? `X${int(1e6).toString(36)}` : pick(methods); // unknown methods (path-safe: the client refuses bad :path)
      const kind = int(5);
      let body: Buffer;
      if (kind === 0) body = frame(bytes(int(300)));
      else if (kind === 1) { const v = Buffer.from(valid); v[int(v.length)] = int(256); body = frame(v); } // one flipped byte
      else if (kind === 2) body = frame(bytes(int(50)), 1); // "compressed" with no grpc-encoding
      else if (kind === 3) body = frame(bytes(int(50)), 0, int(100) - 50).subarray(0, int(60)); // length prefix lies / truncated
      else body = bytes(int(20));
      const r = await call(session, method, body);
      expect(r.status, `gRPC ${method} kind ${kind} got no grpc-status (http ${r.http}) ${where}`).toBeDefined();
      const s = Number(r.status);
      // INTERNAL (13) and UNKNOWN (2) would mean an unhandled path; UNAVAILABLE is not expected with Redis up.
      expect([2, 13, 14].includes(s), `gRPC ${method} kind ${kind} answered status ${s} (${r.code}) ${where}`).toBe(false);
      // grpc-js's own framing layer refuses a length prefix over 4 MiB before any malt code sees
      // the call, with no way to attach metadata (docs/security.md says so); everything else is malt's.
      const framingRefusal = s === 8 && /^Received message larger than max/.test(r.message ?? '');
      if (s !== 0 && s !== 12 /* UNIMPLEMENTED: unknown method, from grpc-js itself */ && !framingRefusal) {
        expect(CODES.has(String(r.code)), `gRPC ${method} kind ${kind} status ${s} without a malt-error-code: ${r.message} ${where}`).toBe(true);
      }
      seen.set(`${s}`, (seen.get(`${s}`) ?? 0) + 1);
    }
    // The control call still answers correctly on the same connection.
    expect((await call(session, 'Get', frame(valid))).status).toBe('0');
    session.close();
    expect(seen.size, `the fuzzer only ever produced ${[...seen.keys()]} ${where}`).toBeGreaterThan(1);
    await stillCorrect();
  });
});

describe(`memory under hostile input ${where}`, () => {
  it('stays bounded over repeated rounds of oversize and deep bodies', { timeout: 90_000 }, async () => {
    const pid = child.pid as number;
    const json = { 'content-type': 'application/json' };
    const round = async (): Promise<void> => {
      const jobs: Promise<Answer>[] = [];
      for (let i = 0; i < 40; i++) {
        jobs.push(send('POST', `${base}/v1/entities/batch`, JSON.stringify({ entity_ids: Array.from({ length: 1000 }, (_, j) => `p${j % 60}`) }), json));
        jobs.push(send('POST', `${base}/v1/entities/batch`, `{"entity_ids":[${'"x",'.repeat(30_000)}"y"]}`, json)); // over the body limit
        jobs.push(send('GET', `${base}/v1/entities/${'z'.repeat(int(3000) + 1)}`));
      }
      for (const a of await Promise.all(jobs)) {
        // 120 requests at once on a busy 2-core box may pass the 250 ms Redis deadline: that
        // documented, coded 503 is fine here; this test is about memory.
        if (a.status === 503 && a.body.includes('"STORE_UNAVAILABLE"')) continue;
        checkAnswer(a, 'memory round');
      }
    };
    for (let i = 0; i < 3; i++) await round(); // warm-up: JIT, caches, pools
    const before = rssKiB(pid);
    expect(before, 'the RSS read must see the serving process').toBeGreaterThan(60 * 1024);
    for (let i = 0; i < 12; i++) await round();
    const after = rssKiB(pid);
    // 12 rounds move ~40 MB of request bodies; a leak of even a fraction of that per round shows.
    expect(after - before, `RSS grew from ${before} to ${after} KiB ${where}`).toBeLessThan(64 * 1024);
    await stillCorrect();
  });
});
