/**
 * `max_age` (docs/degraded-modes.md): values of a snapshot whose as-of time is older are served,
 * marked STALE instead of PRESENT, on both transports, and counted; the switch happens when the
 * age passes, without a reload, cached results included; a fresh load is PRESENT again; values
 * from real-time updates stay PRESENT; no max_age, no STALE.
 */
import { utimesSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { MaltError } from '../src/errors.js';
import { call, servingClient } from '../src/serving/grpc-client.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, writePlayers, type PlayerRow } from './support/fixtures.js';

const rows: PlayerRow[] = [
  { id: 'a', ltv: 1.5, level: 3n, country: 'SE', is_payer: true, last_login: null, tags: ['x'] },
  { id: 'b', ltv: null, level: 4n, country: null, is_payer: false, last_login: null, tags: null },
];

const apps = appsClosedAfterAll();
const HOUR = 3_600_000;

/** Writes the table with its file mtime `ageMs` in the past (a Parquet source's as-of time is its newest file's mtime). */
function table(ageMs: number): string {
  const dir = path.join(tmpDir(), 'players');
  const file = path.join(dir, 'part-0.parquet');
  writePlayers(file, rows);
  const at = new Date(Date.now() - ageMs);
  utimesSync(file, at, at);
  return dir;
}

interface HttpDataset { found: boolean; features: Record<string, { value: unknown; status: string; updated?: boolean }> }

async function httpStatuses(app: Awaited<ReturnType<typeof serve>>, id: string, dataset: string): Promise<Record<string, string>> {
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${id}?datasets=${dataset}` });
  expect(res.statusCode).toBe(200);
  const d = (res.json() as { datasets: HttpDataset[] }).datasets[0]!;
  return Object.fromEntries(Object.entries(d.features).map(([k, f]) => [k, f.status]));
}

async function grpcStatuses(port: number, id: string, dataset: string): Promise<Record<string, string>> {
  const client = servingClient(`127.0.0.1:${port}`);
  try {
    const r = await call<{ datasets: { features: Record<string, { status: string }> }[] }>(client, 'Get', { entity_id: id, datasets: [dataset] });
    return Object.fromEntries(Object.entries(r.datasets[0]!.features).map(([k, f]) => [k, f.status]));
  } finally {
    client.close();
  }
}

async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('max_age', () => {
  it('a snapshot older than max_age is served STALE (values kept) on HTTP and gRPC, counted; without max_age it stays PRESENT', async () => {
    const uri = table(48 * HOUR);
    const config = makeConfig({
      datasets: [
        featuresDataset('old', uri, { max_age: '26h', defaults: { country: 'ZZ' } }),
        featuresDataset('old_unchecked', uri),
      ],
    });
    await load(config, 'old');
    await load(config, 'old_unchecked');
    const app = await serve(config);
    apps.push(app);

    const res = await app.http.inject({ method: 'GET', url: '/v1/entities/a?datasets=old' });
    const d = (res.json() as { datasets: HttpDataset[] }).datasets[0]!;
    expect(d.features['ltv']).toEqual({ value: 1.5, status: 'STALE' });
    expect(d.features['level']).toEqual({ value: '3', status: 'STALE' });
    expect(d.features['last_login']).toEqual({ value: null, status: 'NULL_VALUE' });
    const expected = { ltv: 'STALE', level: 'STALE', country: 'STALE', is_payer: 'STALE', last_login: 'NULL_VALUE', tags: 'STALE' };
    expect(await httpStatuses(app, 'a', 'old')).toEqual(expected);
    expect(await grpcStatuses(app.grpcPort, 'a', 'old')).toEqual(expected);
    // A null with a default stays DEFAULTED; an unknown entity stays NOT_FOUND / DEFAULTED.
    expect((await httpStatuses(app, 'b', 'old'))['country']).toBe('DEFAULTED');
    expect((await httpStatuses(app, 'b', 'old'))['ltv']).toBe('NULL_VALUE');
    expect(await httpStatuses(app, 'nobody', 'old')).toMatchObject({ ltv: 'NOT_FOUND', country: 'DEFAULTED' });
    // Six lookups of `old` so far (one of them gRPC), one result each: each counted once.
    expect(app.lookup.degraded.counters.get('old', 'stale')).toBe(6);

    expect(await httpStatuses(app, 'a', 'old_unchecked')).toMatchObject({ ltv: 'PRESENT', level: 'PRESENT' });
    expect(app.lookup.degraded.counters.get('old_unchecked', 'stale')).toBe(0);
  });

  it('turns STALE when the age passes, without a reload and for cached results too; a fresh load is PRESENT again', async () => {
    // Written now: fresh for 4 s (ample for a load and a start on a busy machine), then stale.
    const maxAgeMs = 4000;
    const uri = table(0);
    const config = makeConfig({ serving: { version_poll_ms: 100 }, datasets: [featuresDataset('ageing', uri, { max_age: `${maxAgeMs}ms` })] });
    await load(config, 'ageing');
    const app = await serve(config);
    apps.push(app);
    expect((await httpStatuses(app, 'a', 'ageing'))['ltv']).toBe('PRESENT');
    expect((await grpcStatuses(app.grpcPort, 'a', 'ageing'))['ltv']).toBe('PRESENT'); // now cached
    await pollUntil('a to turn STALE', async () => (await httpStatuses(app, 'a', 'ageing'))['ltv'] === 'STALE');
    expect((await grpcStatuses(app.grpcPort, 'a', 'ageing'))['ltv']).toBe('STALE');
    expect(app.tracker.get('ageing')?.stale).toBe(true);

    // A new snapshot (fresh mtime) is served PRESENT as soon as it is published.
    const file = path.join(uri, 'part-0.parquet');
    const now = new Date();
    utimesSync(file, now, now);
    await load(config, 'ageing', true);
    await pollUntil('the fresh version to be served', async () => (await httpStatuses(app, 'a', 'ageing'))['ltv'] === 'PRESENT');
    expect((await grpcStatuses(app.grpcPort, 'a', 'ageing'))['ltv']).toBe('PRESENT');
  });

  it('values from real-time updates stay PRESENT (updated) on a stale snapshot', async () => {
    const uri = table(48 * HOUR);
    const config = makeConfig({ datasets: [featuresDataset('upd', uri, { max_age: '26h', updates: { enabled: true } })] });
    await load(config, 'upd');
    const app = await serve(config);
    apps.push(app);
    const push = await app.http.inject({ method: 'POST', url: '/v1/datasets/upd/updates', payload: { updates: [{ entity_id: 'a', op: 'upsert', values: { ltv: 9.5 } }] } });
    expect(push.statusCode, push.body).toBe(200);
    const res = await app.http.inject({ method: 'GET', url: '/v1/entities/a?datasets=upd' });
    const d = (res.json() as { datasets: HttpDataset[] }).datasets[0]!;
    expect(d.features['ltv']).toEqual({ value: 9.5, status: 'PRESENT', updated: true });
    expect(d.features['level']).toEqual({ value: '3', status: 'STALE' });
  });

  it('config: max_age and fallback are checked at start', () => {
    const bad = (extra: Record<string, unknown>): string => {
      try {
        loadConfig({ document: { datasets: [featuresDataset('x', '/tmp/none', extra)] }, env: {}, baseDir: '/tmp' });
      } catch (err) {
        expect(err).toBeInstanceOf(MaltError);
        return [(err as MaltError).message, ...(err as MaltError).details].join('\n');
      }
      throw new Error('config accepted');
    };
    expect(bad({ max_age: 'soon' })).toMatch(/max_age.*must be a duration/);
    expect(bad({ max_age: '10ms' })).toMatch(/max_age/);
    expect(bad({ fallback: ['cache'] })).toMatch(/fallback.*unknown fallback "cache"/);
    expect(bad({ fallback: ['cached', 'cached'] })).toMatch(/fallback.*twice/);
    const ok = loadConfig({ document: { datasets: [featuresDataset('x', '/tmp/none', { max_age: '26h', fallback: ['defaults', 'cached'] })] }, env: {}, baseDir: '/tmp' });
    expect(ok.datasets[0]!.maxAgeMs).toBe(26 * HOUR);
    expect(ok.datasets[0]!.fallback).toEqual(['defaults', 'cached']);
    const plain = loadConfig({ document: { datasets: [featuresDataset('x', '/tmp/none')] }, env: {}, baseDir: '/tmp' });
    expect(plain.datasets[0]!.maxAgeMs).toBe(null);
    expect(plain.datasets[0]!.fallback).toEqual(['cached']);
  });
});
