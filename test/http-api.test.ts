/**
 * The HTTP API end to end: Parquet fixtures are loaded into the suite's redis-server and a real
 * serving app answers through fastify's inject(). Every value is checked against what was written
 * to Parquet, and every error case against the catalog's status and body.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import type { MaltConfig } from '../src/config.js';
import type { LoadReport } from '../src/loaders/load-dataset.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';

const BIG_INT64 = 9007199254740993n; // 2^53 + 1: not representable as a JS number
const LAST_LOGIN = '2024-03-01T12:34:56.789Z';
const UNICODE_ID = 'spieler:ü 4';

interface FeatureJson { value: unknown; status: string }
interface DatasetJson { dataset: string; version: string; found: boolean; features: Record<string, FeatureJson> }
interface EntityJson { entity_id: string; datasets: DatasetJson[] }
interface ErrorJson { error: { code: string; message: string } }

let dir: string;
let config: MaltConfig;
let app: ServingApp;
let playersReport: LoadReport;
let scoresReport: LoadReport;

function writeScores(file: string, scores: Record<string, number>): void {
  const ids = Object.keys(scores);
  writeParquet(file, [
    { name: 'player_id', type: 'string', data: ids, nullable: false },
    { name: 'score', type: 'double', data: ids.map((id) => scores[id]) },
  ]);
}

beforeAll(async () => {
  dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), [
    { id: 'p1', ltv: 12.5, level: BIG_INT64, country: 'SE', is_payer: true, last_login: new Date(LAST_LOGIN), tags: ['whale', 'pvp'] },
    { id: 'p2', ltv: null, level: null, country: null, is_payer: null, last_login: null, tags: [] },
    { id: 'p3', ltv: 0.1 + 0.2, level: -7n, country: 'BR', is_payer: false, last_login: new Date(0), tags: null },
    { id: UNICODE_ID, ltv: -3, level: 0n, country: 'ÜÖ "quoted"', is_payer: true, last_login: new Date(LAST_LOGIN), tags: ['ü'] },
  ]);
  writeScores(path.join(dir, 'scores', 'part-0.parquet'), { p1: 100, p2: 200 });
  writeParquet(path.join(dir, 'segments', 'part-0.parquet'), [
    { name: 'player_id', type: 'string', data: ['p1', 'p1', 'p2', 'p1'], nullable: false },
    { name: 'segment', type: 'string', data: ['whale', 'eu', 'eu', 'whale'] },
  ]);
  config = makeConfig({
    serving: { max_batch_size: 5, max_body_bytes: 1024 },
    datasets: [
      featuresDataset('players', path.join(dir, 'players'), { defaults: { ltv: 0, country: 'unknown' } }),
      { name: 'scores', kind: 'features', source: { format: 'parquet', uri: path.join(dir, 'scores') }, key: 'player_id' },
      { name: 'segments', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'segments') }, key: 'player_id', segment_column: 'segment' },
      // Declared, never loaded. A segments dataset so that requests naming no dataset still work.
      { name: 'never_loaded', kind: 'segments', source: { format: 'parquet', uri: path.join(dir, 'nothing') }, key: 'player_id', segment_column: 'segment', allow_empty: true },
    ],
  });
  playersReport = await load(config, 'players');
  scoresReport = await load(config, 'scores');
  await load(config, 'segments');
  app = await serve(config);
});

afterAll(async () => {
  await app?.close();
});

async function getJson<T>(url: string): Promise<{ status: number; body: T; raw: string }> {
  const res = await app.http.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() as T, raw: res.body };
}

async function post(url: string, payload: string | object): Promise<{ status: number; body: unknown; raw: string }> {
  const res = await app.http.inject({
    method: 'POST', url, headers: { 'content-type': 'application/json' },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  return { status: res.statusCode, body: res.json(), raw: res.body };
}

function expectError(res: { status: number; body: unknown }, status: number, code: string): void {
  expect(res.status).toBe(status);
  const body = res.body as ErrorJson;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
}

function dataset(e: EntityJson, name: string): DatasetJson {
  const d = e.datasets.find((x) => x.dataset === name);
  if (!d) throw new Error(`no dataset ${name} in ${JSON.stringify(e)}`);
  return d;
}

const P1_FEATURES = {
  ltv: { value: 12.5, status: 'PRESENT' },
  level: { value: '9007199254740993', status: 'PRESENT' },
  country: { value: 'SE', status: 'PRESENT' },
  is_payer: { value: true, status: 'PRESENT' },
  last_login: { value: LAST_LOGIN, status: 'PRESENT' },
  tags: { value: ['whale', 'pvp'], status: 'PRESENT' },
};

const P2_FEATURES = {
  ltv: { value: 0, status: 'DEFAULTED' },
  level: { value: null, status: 'NULL_VALUE' },
  country: { value: 'unknown', status: 'DEFAULTED' },
  is_payer: { value: null, status: 'NULL_VALUE' },
  last_login: { value: null, status: 'NULL_VALUE' },
  tags: { value: [], status: 'PRESENT' },
};

describe('GET /v1/entities/:id', () => {
  it('returns exactly the Parquet values of every column type, with the version served', async () => {
    const res = await getJson<EntityJson>('/v1/entities/p1?datasets=players');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      entity_id: 'p1',
      datasets: [{ dataset: 'players', version: String(playersReport.version), found: true, features: P1_FEATURES }],
    });
  });

  it('keeps int64 values beyond 2^53 exact as JSON strings', async () => {
    const res = await getJson<EntityJson>('/v1/entities/p1?datasets=players');
    expect(res.raw).toContain('"level":{"value":"9007199254740993","status":"PRESENT"}');
    expect(BigInt(dataset(res.body, 'players').features['level']?.value as string)).toBe(BIG_INT64);
  });

  it('reports nulls as NULL_VALUE, configured defaults as DEFAULTED and an empty list as PRESENT', async () => {
    const res = await getJson<EntityJson>('/v1/entities/p2?datasets=players');
    expect(res.status).toBe(200);
    const d = dataset(res.body, 'players');
    expect(d.found).toBe(true);
    expect(d.features).toEqual(P2_FEATURES);
  });

  it('serves negative, zero-epoch, inexact-double and null-list values as written', async () => {
    const res = await getJson<EntityJson>('/v1/entities/p3?datasets=players');
    expect(dataset(res.body, 'players').features).toEqual({
      ltv: { value: 0.30000000000000004, status: 'PRESENT' },
      level: { value: '-7', status: 'PRESENT' },
      country: { value: 'BR', status: 'PRESENT' },
      is_payer: { value: false, status: 'PRESENT' },
      last_login: { value: '1970-01-01T00:00:00.000Z', status: 'PRESENT' },
      tags: { value: null, status: 'NULL_VALUE' },
    });
  });

  it('decodes URL-encoded ids with non-ASCII characters', async () => {
    const res = await getJson<EntityJson>(`/v1/entities/${encodeURIComponent(UNICODE_ID)}?datasets=players`);
    expect(res.status).toBe(200);
    expect(res.body.entity_id).toBe(UNICODE_ID);
    const d = dataset(res.body, 'players');
    expect(d.found).toBe(true);
    expect(d.features['country']).toEqual({ value: 'ÜÖ "quoted"', status: 'PRESENT' });
    expect(d.features['ltv']).toEqual({ value: -3, status: 'PRESENT' });
  });

  it('answers an unknown id with found=false, NOT_FOUND, and DEFAULTED where a default is configured', async () => {
    const res = await getJson<EntityJson>('/v1/entities/nobody?datasets=players');
    expect(res.status).toBe(200);
    expect(res.body.datasets).toEqual([{
      dataset: 'players', version: String(playersReport.version), found: false,
      features: {
        ltv: { value: 0, status: 'DEFAULTED' },
        level: { value: null, status: 'NOT_FOUND' },
        country: { value: 'unknown', status: 'DEFAULTED' },
        is_payer: { value: null, status: 'NOT_FOUND' },
        last_login: { value: null, status: 'NOT_FOUND' },
        tags: { value: null, status: 'NOT_FOUND' },
      },
    }]);
  });

  it('serves several datasets with ?datasets=a,b in the order asked', async () => {
    const res = await getJson<EntityJson>('/v1/entities/p1?datasets=scores,players');
    expect(res.status).toBe(200);
    expect(res.body.datasets.map((d) => d.dataset)).toEqual(['scores', 'players']);
    expect(dataset(res.body, 'scores')).toEqual({
      dataset: 'scores', version: String(scoresReport.version), found: true, features: { score: { value: 100, status: 'PRESENT' } },
    });
    expect(dataset(res.body, 'players').features).toEqual(P1_FEATURES);
  });

  it('serves every features dataset (and no segments dataset) when none is named', async () => {
    const res = await getJson<EntityJson>('/v1/entities/p2');
    expect(res.status).toBe(200);
    expect(res.body.datasets.map((d) => d.dataset).sort()).toEqual(['players', 'scores']);
    expect(dataset(res.body, 'scores').features).toEqual({ score: { value: 200, status: 'PRESENT' } });
  });
});

describe('POST /v1/entities/batch', () => {
  it('sends a Content-Length equal to the body bytes, for escaped and non-ASCII ids and values too', async () => {
    const ids = ['p1', UNICODE_ID, 'nobody "quoted" \\ ✓', 'p2'];
    const batch = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids } });
    expect(batch.statusCode).toBe(200);
    expect(Number(batch.headers['content-length'])).toBe(batch.rawPayload.length);
    expect(batch.json().results.map((r: { entity_id: string }) => r.entity_id)).toEqual(ids);
    for (const id of ids) {
      const one = await app.http.inject({ url: `/v1/entities/${encodeURIComponent(id)}` });
      expect(Number(one.headers['content-length'])).toBe(one.rawPayload.length);
      expect(one.json().entity_id).toBe(id);
    }
  });

  it('returns one result per requested id in request order, including duplicates and unknown ids', async () => {
    const ids = ['p2', 'nobody', 'p1', 'p2', UNICODE_ID];
    const res = await post('/v1/entities/batch', { entity_ids: ids, datasets: ['players'] });
    expect(res.status).toBe(200);
    const results = (res.body as { results: EntityJson[] }).results;
    expect(results.map((r) => r.entity_id)).toEqual(ids);
    expect(results[0]?.datasets[0]?.features).toEqual(P2_FEATURES);
    expect(results[1]?.datasets[0]?.found).toBe(false);
    expect(results[1]?.datasets[0]?.features['level']).toEqual({ value: null, status: 'NOT_FOUND' });
    expect(results[2]?.datasets[0]?.features).toEqual(P1_FEATURES);
    expect(results[3]).toEqual(results[0]);
    expect(results[4]?.datasets[0]?.features['country']?.value).toBe('ÜÖ "quoted"');
    for (const r of results) expect(r.datasets[0]?.version).toBe(String(playersReport.version));
  });

  it('serves every features dataset when datasets is omitted', async () => {
    const res = await post('/v1/entities/batch', { entity_ids: ['p1'] });
    expect(res.status).toBe(200);
    const [r] = (res.body as { results: EntityJson[] }).results;
    expect(r?.datasets.map((d) => d.dataset).sort()).toEqual(['players', 'scores']);
  });
});

describe('segments', () => {
  it('lists the segments of an entity (long shape, duplicates collapsed) with the version', async () => {
    const res = await getJson<{ entity_id: string; segments: string[]; version: string; found: boolean }>('/v1/entities/p1/segments?dataset=segments');
    expect(res.status).toBe(200);
    expect(res.body.entity_id).toBe('p1');
    expect([...res.body.segments].sort()).toEqual(['eu', 'whale']);
    expect(res.body.segments).toHaveLength(2);
    expect(res.body.found).toBe(true);
    expect(res.body.version).toBe('1');
  });

  it('answers an entity without segments with an empty list and found=false', async () => {
    const res = await getJson<{ segments: string[]; found: boolean }>('/v1/entities/p3/segments?dataset=segments');
    expect(res.status).toBe(200);
    expect(res.body.segments).toEqual([]);
    expect(res.body.found).toBe(false);
  });

  it('answers membership with member true/false and the version', async () => {
    const yes = await getJson<{ member: boolean; version: string }>('/v1/entities/p2/segments/eu?dataset=segments');
    expect(yes.status).toBe(200);
    expect(yes.body).toEqual({ member: true, version: '1' });
    const no = await getJson<{ member: boolean; version: string }>('/v1/entities/p2/segments/whale?dataset=segments');
    expect(no.body).toEqual({ member: false, version: '1' });
    const unknown = await getJson<{ member: boolean; version: string }>('/v1/entities/nobody/segments/eu?dataset=segments');
    expect(unknown.body).toEqual({ member: false, version: '1' });
  });

  it('refuses a segments call on a features dataset with 400 NOT_A_SEGMENTS_DATASET', async () => {
    expectError(await getJson('/v1/entities/p1/segments?dataset=players'), 400, 'NOT_A_SEGMENTS_DATASET');
    expectError(await getJson('/v1/entities/p1/segments/eu?dataset=players'), 400, 'NOT_A_SEGMENTS_DATASET');
  });

  it('asks for ?dataset= when several segments datasets are declared', async () => {
    expectError(await getJson('/v1/entities/p1/segments'), 400, 'INVALID_ARGUMENT');
  });
});

describe('datasets and versions', () => {
  it('GET /v1/datasets reports each dataset\'s current version, loaded_at, rows and fingerprint', async () => {
    const res = await getJson<{ datasets: Record<string, unknown>[] }>('/v1/datasets');
    expect(res.status).toBe(200);
    const players = res.body.datasets.find((d) => d['name'] === 'players');
    expect(players).toMatchObject({
      kind: 'features', current_version: String(playersReport.version), rows: 4, source_fingerprint: playersReport.fingerprint,
    });
    expect(playersReport.fingerprint.length).toBeGreaterThan(0);
    const loadedAt = Date.parse(String(players?.['loaded_at']));
    expect(Number.isNaN(loadedAt)).toBe(false);
    expect(Math.abs(Date.now() - loadedAt)).toBeLessThan(5 * 60_000);
    expect(res.body.datasets.find((d) => d['name'] === 'segments')).toMatchObject({ kind: 'segments', current_version: '1', rows: 2 });
    expect(res.body.datasets.find((d) => d['name'] === 'never_loaded')).toMatchObject({ current_version: null, rows: null, loaded_at: null });
  });

  it('GET /v1/datasets/:name/versions lists the versions with their load reports', async () => {
    const res = await getJson<{ dataset: string; current_version: string; versions: Record<string, unknown>[] }>('/v1/datasets/players/versions');
    expect(res.status).toBe(200);
    expect(res.body.current_version).toBe(String(playersReport.version));
    expect(res.body.versions).toHaveLength(1);
    expect(res.body.versions[0]).toMatchObject({
      version: String(playersReport.version), state: 'published', current: true, rows: 4, rejected: 0, duplicates: 0,
      source_fingerprint: playersReport.fingerprint,
    });
  });

  it('rollback with no older version answers 409 NO_PREVIOUS_VERSION and keeps serving', async () => {
    expectError(await post('/v1/datasets/players/rollback', {}), 409, 'NO_PREVIOUS_VERSION');
    const res = await getJson<EntityJson>('/v1/entities/p1?datasets=players');
    expect(res.body.datasets[0]?.version).toBe(String(playersReport.version));
  });

  it('a forced second load is served, and rollback flips the served version back', async () => {
    writeScores(path.join(dir, 'scores', 'part-0.parquet'), { p1: 111, p2: 222 });
    const second = await load(config, 'scores', true);
    expect(second.status).toBe('published');
    expect(second.version).toBeGreaterThan(scoresReport.version);

    // The app learns of the publish by pub/sub or poll (within a second).
    const deadline = Date.now() + 3000;
    let served = await getJson<EntityJson>('/v1/entities/p1?datasets=scores');
    while (served.body.datasets[0]?.version !== String(second.version) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      served = await getJson<EntityJson>('/v1/entities/p1?datasets=scores');
    }
    expect(served.body.datasets[0]).toMatchObject({ version: String(second.version), features: { score: { value: 111, status: 'PRESENT' } } });

    const versions = await getJson<{ current_version: string; versions: { version: string; current: boolean }[] }>('/v1/datasets/scores/versions');
    expect(versions.body.current_version).toBe(String(second.version));
    expect(versions.body.versions.map((v) => [v.version, v.current])).toEqual([[String(second.version), true], [String(scoresReport.version), false]]);

    expectError(await post('/v1/datasets/scores/rollback', { to: '999' }), 404, 'VERSION_NOT_FOUND');

    const rb = await post('/v1/datasets/scores/rollback', {});
    expect(rb.status).toBe(200);
    expect(rb.body).toEqual({ dataset: 'scores', from_version: String(second.version), to_version: String(scoresReport.version) });
    // Served at once by the replica that performed the rollback.
    const after = await getJson<EntityJson>('/v1/entities/p1?datasets=scores');
    expect(after.body.datasets[0]).toMatchObject({ version: String(scoresReport.version), features: { score: { value: 100, status: 'PRESENT' } } });
    const list = await getJson<{ datasets: Record<string, unknown>[] }>('/v1/datasets');
    expect(list.body.datasets.find((d) => d['name'] === 'scores')?.['current_version']).toBe(String(scoresReport.version));

    // Roll forward again with an explicit target.
    const fwd = await post('/v1/datasets/scores/rollback', { to: String(second.version) });
    expect(fwd.status).toBe(200);
    const again = await getJson<EntityJson>('/v1/entities/p2?datasets=scores');
    expect(again.body.datasets[0]).toMatchObject({ version: String(second.version), features: { score: { value: 222, status: 'PRESENT' } } });
  });
});

describe('health and docs', () => {
  it('/healthz and /readyz answer 200', async () => {
    const health = await getJson<{ status: string }>('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    const ready = await getJson<{ status: string; datasets: Record<string, string | null> }>('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    expect(ready.body.datasets['players']).toBe(String(playersReport.version));
    expect(ready.body.datasets['never_loaded']).toBeNull();
  });

  it('/docs serves the UI and /docs/json the OpenAPI document of the entity routes', async () => {
    const ui = await app.http.inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
    expect(ui.body).toContain('swagger');
    const doc = await getJson<{ openapi: string; paths: Record<string, unknown> }>('/docs/json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining([
      '/v1/entities/{id}', '/v1/entities/batch', '/v1/entities/{id}/segments', '/v1/entities/{id}/segments/{segment}',
      '/v1/datasets', '/v1/datasets/{name}/versions', '/v1/datasets/{name}/rollback',
    ]));
  });
});

describe('errors', () => {
  it('an empty or joined dataset name is unknown even after the default set was resolved (no memo mix-ups)', async () => {
    expect((await post('/v1/entities/batch', { entity_ids: ['p1'] })).status).toBe(200);
    expectError(await post('/v1/entities/batch', { entity_ids: ['p1'], datasets: [''] }), 404, 'DATASET_NOT_FOUND');
    expect((await post('/v1/entities/batch', { entity_ids: ['p1'], datasets: ['players'] })).status).toBe(200);
    expectError(await post('/v1/entities/batch', { entity_ids: ['p1'], datasets: ['players\u0000'] }), 404, 'DATASET_NOT_FOUND');
  });

  it('unknown dataset → 404 DATASET_NOT_FOUND on every route that names one', async () => {
    expectError(await getJson('/v1/entities/p1?datasets=nope'), 404, 'DATASET_NOT_FOUND');
    expectError(await getJson('/v1/entities/p1?datasets=players,nope'), 404, 'DATASET_NOT_FOUND');
    expectError(await post('/v1/entities/batch', { entity_ids: ['p1'], datasets: ['nope'] }), 404, 'DATASET_NOT_FOUND');
    expectError(await getJson('/v1/entities/p1/segments?dataset=nope'), 404, 'DATASET_NOT_FOUND');
    expectError(await getJson('/v1/datasets/nope/versions'), 404, 'DATASET_NOT_FOUND');
    expectError(await post('/v1/datasets/nope/rollback', {}), 404, 'DATASET_NOT_FOUND');
  });

  it('empty id → 400 INVALID_ENTITY_ID', async () => {
    expectError(await post('/v1/entities/batch', { entity_ids: ['p1', ''] }), 400, 'INVALID_ENTITY_ID');
  });

  it('id over 256 bytes → 400 INVALID_ENTITY_ID, over both routes', async () => {
    const long = 'x'.repeat(257);
    expectError(await post('/v1/entities/batch', { entity_ids: [long] }), 400, 'INVALID_ENTITY_ID');
    expectError(await getJson(`/v1/entities/${long}`), 400, 'INVALID_ENTITY_ID');
    // 129 characters but 258 UTF-8 bytes.
    expectError(await getJson(`/v1/entities/${encodeURIComponent('ü'.repeat(129))}`), 400, 'INVALID_ENTITY_ID');
  });

  it('ids far beyond the limit and undecodable ids get the catalog body, not the router\'s', async () => {
    expectError(await getJson(`/v1/entities/${'x'.repeat(5000)}`), 400, 'INVALID_ENTITY_ID');
    expectError(await getJson('/v1/entities/%E0%A4%A'), 400, 'INVALID_ENTITY_ID');
  });

  it('an id of exactly 256 bytes is valid', async () => {
    const res = await getJson<EntityJson>(`/v1/entities/${'y'.repeat(256)}?datasets=players`);
    expect(res.status).toBe(200);
    expect(res.body.entity_id).toBe('y'.repeat(256));
    expect(res.body.datasets[0]?.found).toBe(false);
  });

  it('id with a control character → 400 INVALID_ENTITY_ID', async () => {
    expectError(await getJson('/v1/entities/a%01b'), 400, 'INVALID_ENTITY_ID');
    expectError(await getJson('/v1/entities/a%7Fb/segments?dataset=segments'), 400, 'INVALID_ENTITY_ID');
    expectError(await post('/v1/entities/batch', { entity_ids: ['ok', 'tab\there'] }), 400, 'INVALID_ENTITY_ID');
  });

  it('batch over serving.max_batch_size → 400 BATCH_TOO_LARGE', async () => {
    expectError(await post('/v1/entities/batch', { entity_ids: ['a', 'b', 'c', 'd', 'e', 'f'] }), 400, 'BATCH_TOO_LARGE');
    const atLimit = await post('/v1/entities/batch', { entity_ids: ['a', 'b', 'c', 'd', 'e'], datasets: ['players'] });
    expect(atLimit.status).toBe(200);
  });

  it('malformed JSON → 400 MALFORMED_JSON', async () => {
    expectError(await post('/v1/entities/batch', '{"entity_ids": ["p1"'), 400, 'MALFORMED_JSON');
    expectError(await post('/v1/datasets/scores/rollback', '{to:'), 400, 'MALFORMED_JSON');
  });

  it('a batch body with unknown fields or a non-list entity_ids → 400 INVALID_ARGUMENT (nothing silently dropped or coerced)', async () => {
    expectError(await post('/v1/entities/batch', { entity_ids: ['p1'], dataset: ['players'] }), 400, 'INVALID_ARGUMENT');
    expectError(await post('/v1/entities/batch', { entity_ids: 'p1' }), 400, 'INVALID_ARGUMENT');
    expectError(await post('/v1/entities/batch', { entity_ids: [1, 2] }), 400, 'INVALID_ARGUMENT');
    expectError(await post('/v1/entities/batch', {}), 400, 'INVALID_ARGUMENT');
  });

  it('body over serving.max_body_bytes → 413 PAYLOAD_TOO_LARGE', async () => {
    expectError(await post('/v1/entities/batch', { entity_ids: ['p1'], datasets: ['players'], pad: 'z'.repeat(2000) }), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('unknown route → 404 ROUTE_NOT_FOUND', async () => {
    expectError(await getJson('/v2/nothing'), 404, 'ROUTE_NOT_FOUND');
    expectError(await post('/v1/entities/p1', {}), 404, 'ROUTE_NOT_FOUND');
  });

  it('dataset declared but never loaded → 503 DATASET_NOT_LOADED', async () => {
    expectError(await getJson('/v1/entities/p1?datasets=never_loaded'), 503, 'DATASET_NOT_LOADED');
    expectError(await getJson('/v1/entities/p1/segments?dataset=never_loaded'), 503, 'DATASET_NOT_LOADED');
    expectError(await post('/v1/datasets/never_loaded/rollback', {}), 409, 'NO_PREVIOUS_VERSION');
  });
});
