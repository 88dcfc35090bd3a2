import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, KeyRing, bearerToken } from '../src/auth/api-keys.js';
import { AuthPolicy } from '../src/auth/auth-policy.js';
import { assertExposureAllowed } from '../src/auth/exposure.js';
import { RateLimiter } from '../src/auth/rate-limiter.js';
import { loadConfig } from '../src/config.js';
import { MaltError } from '../src/errors.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import type { ServingApp } from '../src/app.js';
import { callWith, client, healthCheck, type Client } from './support/auth-client.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, writePlayers, type PlayerRow } from './support/fixtures.js';

const apps = appsClosedAfterAll();
const rows: PlayerRow[] = Array.from({ length: 20 }, (_, i) => ({ id: `p${i}`, ltv: i, level: i, country: 'US', is_payer: true, last_login: null, tags: null }));
const TOKENS = { reader: 'tok-reader-1', writer: 'tok-writer-2', admin: 'tok-admin-3', all: 'tok-all-4', limited: 'tok-limited-5' };
const KEYS = [
  { name: 'reader', hash: hashToken(TOKENS.reader), scopes: ['read'] },
  { name: 'writer', hash: hashToken(TOKENS.writer), scopes: ['write'] },
  { name: 'admin', hash: hashToken(TOKENS.admin), scopes: ['admin'] },
  { name: 'all', hash: hashToken(TOKENS.all), scopes: ['read', 'write', 'admin'] },
  { name: 'limited', hash: hashToken(TOKENS.limited).toUpperCase().replace('SHA256:', 'sha256:'), scopes: ['read'], rate_limit: { rps: 0.5, burst: 3 } },
];
let dir: string;
let datasets: Record<string, unknown>[];

beforeAll(() => {
  dir = tmpDir();
  writePlayers(path.join(dir, 'p.parquet'), rows);
  writeParquet(path.join(dir, 'seg.parquet'), [
    { name: 'player_id', type: 'string', data: ['p1', 'p2'] },
    { name: 'segment', type: 'string', data: ['whale', 'vip'] },
  ]);
  datasets = [
    featuresDataset('feat', path.join(dir, 'p.parquet')),
    { name: 'seg', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'seg.parquet') }, key: 'player_id', segment_column: 'segment' },
  ];
});

describe('API keys and rate limits (units)', () => {
  it('hashes tokens, matches by hash only, and reads bearer values', () => {
    const ring = new KeyRing([{ name: 'a', hash: hashToken('alpha').slice(7), scopes: ['read'], rateLimit: null }, { name: 'b', hash: hashToken('beta').slice(7), scopes: ['admin'], rateLimit: null }]);
    expect(ring.match('beta')?.name).toBe('b');
    expect(ring.match('alpha')?.name).toBe('a');
    expect(ring.match('gamma')).toBeNull();
    expect(ring.match('')).toBeNull();
    expect(bearerToken('Bearer  xyz')).toBe('xyz');
    expect(bearerToken('bearer xyz')).toBe('xyz');
    expect(bearerToken('Basic xyz')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });

  it('token bucket: burst, then rps, with the wait until the next token', () => {
    let now = 0;
    const rl = new RateLimiter(() => now);
    const limit = { rps: 2, burst: 2 };
    expect([rl.take('k', limit), rl.take('k', limit)]).toEqual([0, 0]);
    expect(rl.take('k', limit)).toBe(500);
    expect(rl.take('other', limit)).toBe(0);
    now = 500;
    expect(rl.take('k', limit)).toBe(0);
    expect(rl.take('k', limit)).toBeGreaterThan(0);
    now = 10_000;
    expect([rl.take('k', limit), rl.take('k', limit), rl.take('k', limit) > 0]).toEqual([0, 0, true]);
  });
});

describe('config: auth keys, MALT_API_KEYS, auth: none, and the open-server rule', () => {
  const doc = (extra: Record<string, unknown>) => ({ redis: { url: 'redis://127.0.0.1:1' }, datasets: [featuresDataset('x', '/tmp/x.parquet')], ...extra });

  it('parses keys from the file and from MALT_API_KEYS (which replaces them)', () => {
    const fromFile = loadConfig({ document: doc({ auth: { keys: KEYS } }), env: {} });
    expect(fromFile.auth.mode).toBe('keys');
    expect(fromFile.auth.keys.map((k) => k.name)).toEqual(['reader', 'writer', 'admin', 'all', 'limited']);
    expect(fromFile.auth.keys[4]).toMatchObject({ hash: hashToken(TOKENS.limited).slice(7), rateLimit: { rps: 0.5, burst: 3 } });
    const fromEnv = loadConfig({ document: doc({ auth: 'none' }), env: { MALT_API_KEYS: JSON.stringify([KEYS[0]]) } });
    expect(fromEnv.auth).toMatchObject({ mode: 'keys', keys: [{ name: 'reader', scopes: ['read'], rateLimit: null }] });
    expect(new AuthPolicy(fromEnv).enabled).toBe(true);
  });

  it('reports bad keys and bad MALT_API_KEYS with every problem', () => {
    const bad = () => loadConfig({ document: doc({ auth: { keys: [{ name: 'a', hash: 'md5:00', scopes: ['read', 'root'] }, { name: 'a', hash: hashToken('x'), scopes: [] }] } }), env: {} });
    expect(bad).toThrow(MaltError);
    try { bad(); } catch (e) {
      const details = (e as MaltError).details.join('\n');
      expect(details).toMatch(/auth\.keys\[0\]\.hash: must be sha256:/);
      expect(details).toMatch(/auth\.keys\[0\]\.scopes\[1\]: unknown scope "root"/);
      expect(details).toMatch(/auth\.keys\[1\]\.scopes: must list at least one scope/);
      expect(details).toMatch(/auth\.keys\[1\]\.name: "a" is used by another key/);
    }
    expect(() => loadConfig({ document: doc({}), env: { MALT_API_KEYS: '[{"name":' } })).toThrow(/MALT_API_KEYS: is not valid JSON/);
    expect(() => loadConfig({ document: doc({ auth: { mode: 'none', keys: [KEYS[0]] } }), env: {} })).toThrow(/mode none with keys listed/);
  });

  it('refuses an open server beyond loopback unless auth: none (config check only, nothing is bound)', () => {
    const wide = (extra: Record<string, unknown>, env: Record<string, string> = {}) => loadConfig({ document: doc({ serving: { host: '0.0.0.0' }, ...extra }), env });
    expect(() => assertExposureAllowed(wide({}))).toThrow(/serving\.host: "0\.0\.0\.0" is not a loopback address and no API keys are configured/);
    try { assertExposureAllowed(wide({})); } catch (e) { expect((e as MaltError).code).toBe('CONFIG_INVALID'); }
    // An admin token alone does not protect reads: still refused.
    expect(() => assertExposureAllowed(wide({ serving: { host: '0.0.0.0', admin_token: 't' } }))).toThrow(/not a loopback address/);
    expect(() => assertExposureAllowed(wide({ auth: 'none' }))).not.toThrow();
    expect(() => assertExposureAllowed(wide({}, { MALT_AUTH: 'none' }))).not.toThrow();
    expect(() => assertExposureAllowed(wide({ auth: { keys: [KEYS[0]] } }))).not.toThrow();
    expect(() => assertExposureAllowed(wide({}, { MALT_API_KEYS: JSON.stringify([KEYS[0]]) }))).not.toThrow();
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.1.2.3']) {
      expect(() => assertExposureAllowed(loadConfig({ document: doc({ serving: { host } }), env: {} }))).not.toThrow();
    }
  });

  it('startServing applies the rule before binding (a TEST-NET address that could not be bound anyway)', async () => {
    const cfg = makeConfig({ serving: { host: '192.0.2.1' }, datasets: [featuresDataset('x', '/tmp/x.parquet')] });
    await expect(serve(cfg)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

type Who = 'none' | 'invalid' | keyof typeof TOKENS;
const header = (who: Who): Record<string, string> => (who === 'none' ? {} : { authorization: `Bearer ${who === 'invalid' ? 'not-a-key' : TOKENS[who]}` });

describe('HTTP: every route × scope', () => {
  let app: ServingApp;
  beforeAll(async () => {
    const cfg = makeConfig({ auth: { keys: KEYS }, datasets });
    await load(cfg, 'feat');
    await load(cfg, 'feat', true);
    await load(cfg, 'seg');
    app = await serve(cfg);
    apps.push(app);
  });

  const READ_ROUTES: { method: 'GET' | 'POST'; url: string; payload?: unknown }[] = [
    { method: 'GET', url: '/v1/entities/p1' },
    { method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ['p1', 'p2'] } },
    { method: 'GET', url: '/v1/entities/p1/segments?dataset=seg' },
    { method: 'GET', url: '/v1/entities/p1/segments/whale?dataset=seg' },
    { method: 'GET', url: '/v1/datasets' },
    { method: 'GET', url: '/v1/datasets/feat/versions' },
  ];

  it('read routes: 401 without or with an unknown key, 403 without the read scope, 200 with it', async () => {
    for (const r of READ_ROUTES) {
      const call = (who: Who) => app.http.inject({ method: r.method, url: r.url, headers: header(who), ...(r.payload ? { payload: r.payload as object } : {}) });
      for (const who of ['none', 'invalid'] as const) {
        const res = await call(who);
        expect([r.url, res.statusCode, res.json().error.code]).toEqual([r.url, 401, 'UNAUTHENTICATED']);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
      for (const who of ['writer', 'admin'] as const) {
        const res = await call(who);
        expect([r.url, who, res.statusCode, res.json().error.code]).toEqual([r.url, who, 403, 'PERMISSION_DENIED']);
        expect(res.json().error.message).toContain(`"${who}" lacks the "read" scope`);
      }
      for (const who of ['reader', 'all'] as const) expect([r.url, who, (await call(who)).statusCode]).toEqual([r.url, who, 200]);
    }
  });

  it('rollback needs the admin scope; health, readiness and docs stay public', async () => {
    const rollback = (who: Who) => app.http.inject({ method: 'POST', url: '/v1/datasets/feat/rollback', headers: header(who) });
    expect((await rollback('none')).statusCode).toBe(401);
    expect((await rollback('invalid')).json().error.code).toBe('UNAUTHENTICATED');
    for (const who of ['reader', 'writer'] as const) expect((await rollback(who)).json().error.code).toBe('PERMISSION_DENIED');
    const ok = await rollback('admin');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ from_version: '2', to_version: '1' });
    for (const url of ['/healthz', '/readyz', '/docs/json']) expect((await app.http.inject({ url })).statusCode).toBe(200);
    // Unknown routes stay 404 (no scope to check).
    expect((await app.http.inject({ url: '/v2/nothing' })).statusCode).toBe(404);
  });

  it('a key over its rate limit gets 429 RATE_LIMITED with Retry-After; other keys are unaffected', async () => {
    const get = (who: Who) => app.http.inject({ url: '/v1/entities/p1', headers: header(who) });
    for (let i = 0; i < 3; i++) expect((await get('limited')).statusCode).toBe(200);
    const over = await get('limited');
    expect(over.statusCode).toBe(429);
    expect(over.json().error.code).toBe('RATE_LIMITED');
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await get('reader')).statusCode).toBe(200);
    // The same bucket counts gRPC calls (one policy for both transports).
    const c = client(`127.0.0.1:${app.grpcPort}`);
    const res = await callWith(c, 'Get', { entity_id: 'p1', datasets: [] }, `Bearer ${TOKENS.limited}`);
    expect(res).toMatchObject({ ok: false, status: 'RESOURCE_EXHAUSTED', code: 'RATE_LIMITED' });
    c.close();
  });
});

describe('gRPC: every method × scope', () => {
  let app: ServingApp;
  let c: Client;
  beforeAll(async () => {
    const cfg = makeConfig({ auth: { keys: KEYS }, datasets });
    await load(cfg, 'feat');
    await load(cfg, 'seg');
    app = await serve(cfg);
    apps.push(app);
    c = client(`127.0.0.1:${app.grpcPort}`);
  });
  afterAll(() => c?.close());

  const METHODS: [string, unknown][] = [
    ['Get', { entity_id: 'p1', datasets: ['feat'] }],
    ['BatchGet', { entity_ids: ['p1', 'p2'], datasets: [] }],
    ['GetSegments', { entity_id: 'p1', dataset: 'seg' }],
  ];

  it('UNAUTHENTICATED without or with an unknown key, PERMISSION_DENIED without read, OK with it', async () => {
    for (const [method, req] of METHODS) {
      expect(await callWith(c, method, req)).toMatchObject({ ok: false, status: 'UNAUTHENTICATED', code: 'UNAUTHENTICATED' });
      expect(await callWith(c, method, req, 'Bearer not-a-key')).toMatchObject({ ok: false, status: 'UNAUTHENTICATED', code: 'UNAUTHENTICATED' });
      expect(await callWith(c, method, req, TOKENS.reader)).toMatchObject({ ok: false, status: 'UNAUTHENTICATED' });
      for (const who of ['writer', 'admin'] as const) {
        expect(await callWith(c, method, req, `Bearer ${TOKENS[who]}`)).toMatchObject({ ok: false, status: 'PERMISSION_DENIED', code: 'PERMISSION_DENIED' });
      }
      for (const who of ['reader', 'all'] as const) expect(await callWith(c, method, req, `Bearer ${TOKENS[who]}`)).toMatchObject({ ok: true });
    }
    const seg = await callWith(c, 'GetSegments', { entity_id: 'p1', dataset: 'seg' }, `Bearer ${TOKENS.reader}`);
    expect(seg).toMatchObject({ ok: true, res: { segments: ['whale'], found: true } });
  });

  it('health stays public', async () => {
    expect(await healthCheck(`127.0.0.1:${app.grpcPort}`)).toBe('SERVING');
  });
});

describe('auth: none, the open loopback default, and the admin token', () => {
  it('auth: none serves every call without a key; loopback without keys does too', async () => {
    for (const auth of ['none', undefined]) {
      const cfg = makeConfig({ ...(auth ? { auth } : {}), datasets });
      await load(cfg, 'feat');
      const app = await serve(cfg);
      apps.push(app);
      expect((await app.http.inject({ url: '/v1/entities/p1' })).statusCode).toBe(200);
      const c = client(`127.0.0.1:${app.grpcPort}`);
      expect(await callWith(c, 'Get', { entity_id: 'p1', datasets: [] })).toMatchObject({ ok: true });
      c.close();
    }
  });

  it('with keys, serving.admin_token is one more key holding only the admin scope', async () => {
    const cfg = makeConfig({ serving: { admin_token: 'legacy-token' }, auth: { keys: [KEYS[0]] }, datasets });
    await load(cfg, 'feat');
    await load(cfg, 'feat', true);
    const app = await serve(cfg);
    apps.push(app);
    const legacy = { authorization: 'Bearer legacy-token' };
    expect((await app.http.inject({ url: '/v1/entities/p1', headers: legacy })).json().error.code).toBe('PERMISSION_DENIED');
    expect((await app.http.inject({ method: 'POST', url: '/v1/datasets/feat/rollback', headers: header('reader') })).statusCode).toBe(403);
    expect((await app.http.inject({ method: 'POST', url: '/v1/datasets/feat/rollback', headers: legacy })).statusCode).toBe(200);
  });

  it('without keys, reads are open and rollback still needs the admin token when one is set', async () => {
    const cfg = makeConfig({ serving: { admin_token: 'legacy-token' }, datasets });
    await load(cfg, 'feat');
    await load(cfg, 'feat', true);
    const app = await serve(cfg);
    apps.push(app);
    expect((await app.http.inject({ url: '/v1/entities/p1' })).statusCode).toBe(200);
    expect((await app.http.inject({ method: 'POST', url: '/v1/datasets/feat/rollback' })).json().error.code).toBe('UNAUTHENTICATED');
    expect((await app.http.inject({ method: 'POST', url: '/v1/datasets/feat/rollback', headers: { authorization: 'Bearer legacy-token' } })).statusCode).toBe(200);
  });
});

describe('request limits on both transports, with auth on', () => {
  let app: ServingApp;
  let c: Client;
  beforeAll(async () => {
    const cfg = makeConfig({ serving: { max_body_bytes: 4096, max_batch_size: 5 }, auth: { keys: KEYS }, datasets });
    await load(cfg, 'feat');
    app = await serve(cfg);
    apps.push(app);
    c = client(`127.0.0.1:${app.grpcPort}`);
  });
  afterAll(() => c?.close());
  const reader = `Bearer ${TOKENS.reader}`;

  it('HTTP: a body over max_body_bytes is 413 PAYLOAD_TOO_LARGE; without a key it is refused (401) before the body is read', async () => {
    const big = { entity_ids: Array.from({ length: 1000 }, (_, i) => `player-${i}`) };
    const over = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', headers: header('reader'), payload: big });
    expect([over.statusCode, over.json().error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const anon = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: big });
    expect([anon.statusCode, anon.json().error.code]).toEqual([401, 'UNAUTHENTICATED']);
    const batch = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', headers: header('reader'), payload: { entity_ids: ['a', 'b', 'c', 'd', 'e', 'f'] } });
    expect([batch.statusCode, batch.json().error.code]).toEqual([400, 'BATCH_TOO_LARGE']);
  });

  it('gRPC: a message over 4 MiB is RESOURCE_EXHAUSTED, a batch over the limit is BATCH_TOO_LARGE; the server keeps serving', async () => {
    const huge = await callWith(c, 'Get', { entity_id: 'x'.repeat(5 * 1024 * 1024), datasets: [] }, reader);
    expect(huge).toMatchObject({ ok: false, status: 'RESOURCE_EXHAUSTED' });
    expect(await callWith(c, 'BatchGet', { entity_ids: ['a', 'b', 'c', 'd', 'e', 'f'], datasets: [] }, reader)).toMatchObject({ ok: false, status: 'INVALID_ARGUMENT', code: 'BATCH_TOO_LARGE' });
    expect(await callWith(c, 'Get', { entity_id: 'p1', datasets: [] }, reader)).toMatchObject({ ok: true });
  });
});

describe('updates need the write scope (HTTP POST /v1/datasets/:name/updates, gRPC Push)', () => {
  let app: ServingApp;
  let c: Client;
  beforeAll(async () => {
    const cfg = makeConfig({ auth: { keys: KEYS }, datasets: [featuresDataset('feat', path.join(dir, 'p.parquet'), { updates: { enabled: true } })] });
    await load(cfg, 'feat');
    app = await serve(cfg);
    apps.push(app);
    c = client(`127.0.0.1:${app.grpcPort}`);
  });
  afterAll(() => c?.close());

  it('401 / 403 without write, applied with it, on both transports', async () => {
    const update = (ltv: number) => ({ entity_id: 'p1', op: 'upsert', values: { ltv }, event_time: new Date().toISOString() });
    const push = (who: Who, ltv: number) => app.http.inject({ method: 'POST', url: '/v1/datasets/feat/updates', headers: header(who), payload: { updates: [update(ltv)] } });
    for (const who of ['none', 'invalid'] as const) expect((await push(who, 1)).json().error.code).toBe('UNAUTHENTICATED');
    for (const who of ['reader', 'admin'] as const) expect([(await push(who, 1)).statusCode, who]).toEqual([403, who]);
    const ok = await push('writer', 41);
    expect([ok.statusCode, ok.json()]).toEqual([200, { applied: 1 }]);
    const read = await app.http.inject({ url: '/v1/entities/p1', headers: header('reader') });
    expect(read.json().datasets[0].features.ltv.value).toBe(41);

    const req = (ltv: number) => ({ dataset: 'feat', updates: [{ entity_id: 'p2', op: 'upsert', values: { ltv: { double_value: ltv } }, event_time: new Date().toISOString() }] });
    expect(await callWith(c, 'Push', req(1))).toMatchObject({ ok: false, status: 'UNAUTHENTICATED', code: 'UNAUTHENTICATED' });
    expect(await callWith(c, 'Push', req(1), `Bearer ${TOKENS.reader}`)).toMatchObject({ ok: false, status: 'PERMISSION_DENIED', code: 'PERMISSION_DENIED' });
    expect(await callWith(c, 'Push', req(42), `Bearer ${TOKENS.writer}`)).toMatchObject({ ok: true, res: { applied: 1 } });
    expect(await callWith(c, 'Get', { entity_id: 'p2', datasets: ['feat'] }, `Bearer ${TOKENS.writer}`)).toMatchObject({ ok: false, code: 'PERMISSION_DENIED' });
    const after = await app.http.inject({ url: '/v1/entities/p2', headers: header('all') });
    expect(after.json().datasets[0].features.ltv.value).toBe(42);
  });
});
