/**
 * Review (issue 7): Delta tables WITH checkpoints and `_last_checkpoint` read from a real
 * S3-compatible server (fauxqs, test/support/s3-server.ts) end to end: the `_last_checkpoint`
 * hint, the byte-ordered listing (where `_last_checkpoint` and `_sidecars/` sort after the
 * zero-padded versions), classic, multi-part and v2 (sidecar) checkpoints, deletion vectors
 * read by ranged GETs, a hint naming a checkpoint that does not exist, and an empty hint. Each
 * table is loaded into a real Redis from S3 and from local disk and must serve the same rows.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { resolveDeltaSnapshot } from '../src/sources/delta/delta-table.js';
import { S3ObjectStore } from '../src/sources/s3-store.js';
import { appsClosedAfterAll, load, makeConfig, serve } from './support/fixtures.js';
import { startS3Server, type TestS3Server } from './support/s3-server.js';

const SPARK = path.resolve(import.meta.dirname, '../../shared/testdata/delta-spark');
const apps = appsClosedAfterAll();

/** Table → [expected logical rows (README), checkpoint version the snapshot is rebuilt from]. */
const TABLES: Record<string, readonly [rows: number, checkpoint: number]> = {
  'basic-dv-with-checkpoint': [454, 40],
  'basic-with-inserts-deletes-checkpoint': [41, 10],
  'multi-part-checkpoint': [31, 1],
  'v2-checkpoint-parquet': [10, 2],
  'v2-checkpoint-json': [10, 2],
  'corrupted-last-checkpoint-kernel': [100, 10],
};

let s3: TestS3Server;
let store: S3ObjectStore;

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket('lake');
  for (const t of Object.keys(TABLES)) await s3.uploadDir(path.join(SPARK, t), 'lake', `t/${t}`);
  // The same table with a `_last_checkpoint` naming a checkpoint (v12) that was never written.
  await s3.uploadDir(path.join(SPARK, 'basic-with-inserts-deletes-checkpoint'), 'lake', 't/missing-hint', (rel) => rel !== '_delta_log/_last_checkpoint');
  await s3.putObject('lake', 't/missing-hint/_delta_log/_last_checkpoint', '{"version":12,"size":13}\n');
  store = new S3ObjectStore({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' });
}, 120_000);

afterAll(async () => {
  store?.close();
  await s3?.stop();
});

function dataset(name: string, uri: string): Record<string, unknown> {
  return { name, source: { format: 'delta', uri }, key: 'id', checks: { min_rows: 0, max_rejected_fraction: 1 } };
}

describe('Delta tables with checkpoints on S3', () => {
  it('resolve from the checkpoint the hint names, listing _delta_log from it on (StartAfter)', async () => {
    for (const [t, [, checkpoint]] of Object.entries(TABLES)) {
      await s3.clearRequests();
      const snap = await resolveDeltaSnapshot(store, `s3://lake/t/${t}`);
      expect(snap.logSegment.checkpointVersion, t).toBe(checkpoint);
      const lists = (await s3.requests()).filter((r) => r.method === 'GET' && r.url.includes('list-type=2'));
      expect(lists.length, t).toBeGreaterThan(0);
      // A usable hint lists from the checkpoint on; the empty hint lists the whole log.
      if (t !== 'corrupted-last-checkpoint-kernel') expect(lists.every((r) => /start-after=/i.test(r.url)), t).toBe(true);
    }
  }, 60_000);

  it('a _last_checkpoint naming a missing checkpoint falls back to the listing and serves the table', async () => {
    const snap = await resolveDeltaSnapshot(store, 's3://lake/t/missing-hint');
    expect({ version: snap.version, checkpoint: snap.logSegment.checkpointVersion }).toEqual({ version: 13, checkpoint: 10 });
  });

  it('load from S3 exactly the rows and values they load from local disk', async () => {
    const cfg = makeConfig({
      s3: { endpoint: s3.endpoint, force_path_style: true, region: 'us-east-1' },
      datasets: [
        ...Object.keys(TABLES).flatMap((t, i) => [dataset(`local_${i}`, path.join(SPARK, t)), dataset(`s3_${i}`, `s3://lake/t/${t}/`)]),
        dataset('s3_missing_hint', 's3://lake/t/missing-hint'),
      ],
    });
    const names = Object.keys(TABLES);
    for (let i = 0; i < names.length; i++) {
      const [rows] = TABLES[names[i]!]!;
      const local = await load(cfg, `local_${i}`);
      await s3.clearRequests();
      const remote = await load(cfg, `s3_${i}`);
      // Deletion vectors: one ranged GET each, no HEAD (Spark packs many DVs into one file).
      const dvRequests = (await s3.requests()).filter((r) => r.url.includes('deletion_vector_'));
      expect(dvRequests.filter((r) => r.method !== 'GET' || r.range === null), names[i]).toEqual([]);
      if (names[i] === 'basic-dv-with-checkpoint') expect(dvRequests).toHaveLength(2);
      expect(local.rowsRead, names[i]).toBe(rows);
      expect(remote, names[i]).toMatchObject({ status: 'published', rowsRead: rows, rows: local.rows, sourceVersion: local.sourceVersion, sourceAsOf: local.sourceAsOf });
    }
    expect(await load(cfg, 's3_missing_hint')).toMatchObject({ status: 'published', rowsRead: 41, sourceVersion: '13' });
    const app: ServingApp = await serve(cfg);
    apps.push(app);
    const ids = Array.from({ length: 600 }, (_, i) => String(i));
    const batch = async (ds: string): Promise<unknown[]> => {
      const out: unknown[] = [];
      for (let i = 0; i < ids.length; i += 100) {
        const res = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids.slice(i, i + 100), datasets: [ds] } });
        expect(res.statusCode, res.body).toBe(200);
        out.push(...res.json().results.map((r: { datasets: { found: boolean; features: unknown }[] }) => [r.datasets[0]!.found, r.datasets[0]!.features]));
      }
      return out;
    };
    for (let i = 0; i < names.length; i++) {
      const remote = await batch(`s3_${i}`);
      expect(remote, names[i]).toEqual(await batch(`local_${i}`));
      expect(remote.some((r) => (r as [boolean])[0]), names[i]).toBe(true);
    }
    expect(await batch('s3_missing_hint')).toEqual(await batch(`local_${names.indexOf('basic-with-inserts-deletes-checkpoint')}`));

    // A poll of an unchanged table (what `malt sync` does every interval) reads no checkpoint and no data file.
    await s3.clearRequests();
    expect(await load(cfg, 's3_0')).toMatchObject({ status: 'skipped', skipReason: 'unchanged', sourceVersion: '46' });
    const gets = (await s3.requests()).filter((r) => r.method === 'GET' && !r.url.includes('list-type=2')).map((r) => decodeURIComponent(r.url));
    expect(gets.filter((u) => u.includes('.checkpoint.') || u.endsWith('.parquet') || u.includes('.parquet?') || u.includes('deletion_vector'))).toEqual([]);
    expect(gets.length).toBeLessThanOrEqual(3);
    // A new commit is loaded at the next poll.
    await s3.putObject('lake', 't/missing-hint/_delta_log/00000000000000000014.json', `${JSON.stringify({ commitInfo: { timestamp: 1_900_000_000_000, operation: 'SET TBLPROPERTIES' } })}\n`);
    expect(await load(cfg, 's3_missing_hint')).toMatchObject({ status: 'published', sourceVersion: '14', rowsRead: 41 });
    expect(await load(cfg, 's3_missing_hint')).toMatchObject({ status: 'skipped', sourceVersion: '14' });
  }, 120_000);
});
