import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { writeParquet } from '../src/sample/write-parquet.js';
import { load, makeConfig, serve, tmpDir, appsClosedAfterAll } from './support/fixtures.js';

const apps = appsClosedAfterAll();

function segmentsDataset(name: string, uri: string): Record<string, unknown> {
  return { name, kind: 'segments', source: { format: 'parquet', uri }, key: 'player_id', segment_column: 'segment' };
}

async function segmentsOf(app: ServingApp, id: string, dataset: string): Promise<any> {
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${id}/segments?dataset=${dataset}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('segment sets', () => {
  it('long shape: one row per player × segment, duplicates counted once, across files and row groups', async () => {
    const dir = tmpDir();
    writeParquet(path.join(dir, 'long', 'a.parquet'), [
      { name: 'player_id', type: 'string', data: ['p1', 'p1', 'p2', 'p1', 'p3'] },
      { name: 'segment', type: 'string', data: ['whale', 'vip', 'lapsed_7d', 'whale', null] },
    ], { rowGroupSize: 2 });
    writeParquet(path.join(dir, 'long', 'b.parquet'), [
      { name: 'player_id', type: 'string', data: ['p2', 'p4'] },
      { name: 'segment', type: 'string', data: ['churn_risk_high', 'starter_pack_eligible'] },
    ]);
    const cfg = makeConfig({ datasets: [{ ...segmentsDataset('seg_long', path.join(dir, 'long')), checks: { max_rejected_fraction: 0.2 } }] });
    const report = await load(cfg, 'seg_long');
    expect(report).toMatchObject({ rowsRead: 7, rows: 3, duplicates: 1, rejected: 1, rejectedReasons: { null_segment: 1 } });
    const app = await serve(cfg);
    apps.push(app);
    expect(await segmentsOf(app, 'p1', 'seg_long')).toEqual({ entity_id: 'p1', segments: ['vip', 'whale'], version: '1', found: true });
    expect((await segmentsOf(app, 'p2', 'seg_long')).segments).toEqual(['churn_risk_high', 'lapsed_7d']);
    expect(await segmentsOf(app, 'p3', 'seg_long')).toEqual({ entity_id: 'p3', segments: [], version: '1', found: false });
    const member = await app.http.inject({ method: 'GET', url: '/v1/entities/p1/segments/whale?dataset=seg_long' });
    expect(member.json()).toEqual({ member: true, version: '1' });
    const notMember = await app.http.inject({ method: 'GET', url: '/v1/entities/p4/segments/whale' });
    expect(notMember.json()).toEqual({ member: false, version: '1' });
  });

  it('wide shape: one row per player with a list column', async () => {
    const dir = tmpDir();
    writeParquet(path.join(dir, 'wide.parquet'), [
      { name: 'player_id', type: 'int64', data: [7, 8, 9] },
      { name: 'segment', type: 'string_list', data: [['whale', 'vip', 'whale'], [], null] },
    ]);
    const cfg = makeConfig({ datasets: [segmentsDataset('seg_wide', path.join(dir, 'wide.parquet'))] });
    expect(await load(cfg, 'seg_wide')).toMatchObject({ rows: 3, rejected: 0 });
    const app = await serve(cfg);
    apps.push(app);
    expect(await segmentsOf(app, '7', 'seg_wide')).toEqual({ entity_id: '7', segments: ['vip', 'whale'], version: '1', found: true });
    expect(await segmentsOf(app, '8', 'seg_wide')).toEqual({ entity_id: '8', segments: [], version: '1', found: true });
    expect(await segmentsOf(app, '10', 'seg_wide')).toMatchObject({ segments: [], found: false });
    // A segments dataset named in an entity lookup answers as a string_list feature "segments".
    const r = await app.http.inject({ method: 'GET', url: '/v1/entities/7?datasets=seg_wide' });
    expect(r.json().datasets[0]).toEqual({ dataset: 'seg_wide', version: '1', found: true, features: { segments: { value: ['vip', 'whale'], status: 'PRESENT' } } });
  });

  it('refuses a segment column that is neither a string nor a list of strings', async () => {
    const dir = tmpDir();
    writeParquet(path.join(dir, 'num.parquet'), [
      { name: 'player_id', type: 'string', data: ['a'] },
      { name: 'segment', type: 'int64', data: [1] },
    ]);
    const cfg = makeConfig({ datasets: [segmentsDataset('seg_bad', path.join(dir, 'num.parquet'))] });
    const err = await load(cfg, 'seg_bad').catch((e) => e);
    expect(err.code).toBe('SCHEMA_MISMATCH');
    expect(err.message).toMatch(/segment column "segment" .* is INT64/);
  });
});
