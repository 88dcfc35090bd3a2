/**
 * `malt load --as-of <RFC 3339>` (docs/updates.md): the version's as-of time is the one given,
 * shown as source_as_of, and it decides which updates still apply on top of the version (event
 * time after it: kept) and which the batch supersedes (older). A bad value is a usage error
 * (INVALID_ARGUMENT, exit 2) and loads nothing.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseAsOfTime } from '../src/loaders/as-of-time.js';
import { loadDataset } from '../src/loaders/load-dataset.js';
import { createUpdateWritePath } from '../src/updates/write-path.js';
import { appsClosedAfterAll, featuresDataset, makeConfig, redisUrl, serve, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { runMalt as malt } from './support/cli-runner.js';

const apps = appsClosedAfterAll();
const HOUR = 3_600_000;

describe('malt load --as-of', { timeout: 60_000 }, () => {
  it('sets source_as_of; updates older than it are superseded by the batch, newer ones kept', async () => {
    const dir = tmpDir();
    const table = path.join(dir, 'p.parquet');
    writePlayers(table, ['a', 'b', 'c'].map((id) => ({ id, ltv: 1, level: 1, country: 'US', is_payer: false, last_login: null, tags: null })));
    const now = Date.now();
    // The file's own as-of (its mtime) is 10 h old: without --as-of every update below would apply.
    utimesSync(table, new Date(now - 10 * HOUR), new Date(now - 10 * HOUR));
    const prefix = uniquePrefix();
    const doc = { datasets: [featuresDataset('p', table, { updates: { enabled: true } })] };
    const cfgFile = path.join(dir, 'malt.yaml');
    writeFileSync(cfgFile, stringify(doc));
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix };
    const cfg = makeConfig(doc, { prefix });
    const app = await serve(cfg);
    apps.push(app);
    const wp = createUpdateWritePath(app.redis, cfg);
    const asOf = new Date(Math.floor((now - 2 * HOUR) / 1000) * 1000);
    await wp.apply('p', [
      { entity_id: 'a', op: 'upsert', values: { ltv: 50 }, event_time: new Date(now - 3 * HOUR).toISOString() }, // older: superseded
      { entity_id: 'b', op: 'upsert', values: { ltv: 60 }, event_time: new Date(now - 1 * HOUR).toISOString() }, // newer: kept
      { entity_id: 'c', op: 'delete', event_time: new Date(asOf.getTime() - 1).toISOString() }, // 1 ms older: superseded
    ]);

    // First loaded with the file's own as-of time (10 h old): every update applies on top.
    const plain = await malt(['load', 'p', '-c', cfgFile], env);
    expect(plain.code, plain.stderr).toBe(0);
    await app.tracker.refreshAll();
    const res1 = await app.lookup.get(['a', 'b', 'c'], ['p']);
    expect(res1.map((r) => r.datasets[0]!.toObject()).map((o) => [o.found, o.features['ltv']?.value])).toEqual([[true, 50], [true, 60], [false, null]]);

    // Given with an offset and µs: stored normalised to UTC, µs kept.
    const given = `${new Date(asOf.getTime() + 2 * HOUR).toISOString().slice(0, 19)}.000001+02:00`;
    const run = await malt(['load', 'p', '-c', cfgFile, '--force', '--as-of', given], env);
    expect(run.code, run.stderr).toBe(0);
    const stored = `${asOf.toISOString().slice(0, -1)}001Z`;
    expect(run.stdout).toContain(`as-of time ${parseAsOfTime(given)}`);
    await app.tracker.refreshAll();
    const v = await app.http.inject({ method: 'GET', url: '/v1/datasets' });
    expect(v.statusCode, v.body).toBe(200);
    expect(v.json().datasets[0].source_as_of).toBe(parseAsOfTime(given));
    expect(parseAsOfTime(given)).toBe(stored);

    const res = await app.lookup.get(['a', 'b', 'c'], ['p']);
    const ltv = res.map((r) => r.datasets[0]!.toObject());
    expect(ltv.map((o) => [o.found, o.features['ltv']?.value])).toEqual([[true, 1], [true, 60], [true, 1]]);

  });

  it('a served version older than updates.retention is reported in GET /v1/datasets (updates.retention_exceeded)', async () => {
    const dir = tmpDir();
    const table = path.join(dir, 'p.parquet');
    writePlayers(table, [{ id: 'a', ltv: 1, level: 1, country: 'US', is_payer: false, last_login: null, tags: null }]);
    const cfg = makeConfig({ datasets: [
      featuresDataset('old', table, { updates: { enabled: true, retention: '1m' } }),
      featuresDataset('fresh', table, { updates: { enabled: true, retention: '1h' } }),
      featuresDataset('off', table),
    ] });
    const redis = new Redis(redisUrl());
    try {
      const asOf = parseAsOfTime(new Date(Date.now() - 2 * 60_000).toISOString());
      for (const d of cfg.datasets) await loadDataset(redis, cfg, d, { asOf });
    } finally {
      redis.disconnect();
    }
    const app = await serve(cfg);
    apps.push(app);
    const res = await app.http.inject({ method: 'GET', url: '/v1/datasets' });
    const by = Object.fromEntries((res.json().datasets as { name: string; updates: unknown }[]).map((d) => [d.name, d.updates]));
    expect(by).toEqual({ old: { retention_ms: 60_000, retention_exceeded: true }, fresh: { retention_ms: 3_600_000, retention_exceeded: false }, off: null });
  });

  it('refuses a value that is not RFC 3339, has no zone or is in the future: INVALID_ARGUMENT, exit 2, nothing loaded', async () => {
    const dir = tmpDir();
    const table = path.join(dir, 'p.parquet');
    writePlayers(table, [{ id: 'a', ltv: 1, level: 1, country: 'US', is_payer: false, last_login: null, tags: null }]);
    const cfgFile = path.join(dir, 'malt.yaml');
    writeFileSync(cfgFile, stringify({ datasets: [featuresDataset('p', table)] }));
    const prefix = uniquePrefix();
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix };
    const future = new Date(Date.now() + 24 * HOUR).toISOString();
    for (const bad of ['yesterday', '2026-05-01T12:00:00', '2026-13-01T00:00:00Z', future]) {
      const r = await malt(['load', 'p', '-c', cfgFile, '--as-of', bad], env);
      expect(r.code, `${bad}: ${r.stdout}`).toBe(2);
      expect(r.stderr).toMatch(/error INVALID_ARGUMENT: --as-of /);
    }
    const redis = new Redis(redisUrl());
    try {
      expect(await redis.exists(`${prefix}:{p}:current`)).toBe(0);
    } finally {
      redis.disconnect();
    }
    expect(() => parseAsOfTime('1969-12-31T23:59:59Z')).toThrow(/before 1970/);
    expect(parseAsOfTime('2026-05-01T14:00:00+02:00', new Date('2026-06-01T00:00:00Z'))).toBe('2026-05-01T12:00:00.000Z');
  });
});
