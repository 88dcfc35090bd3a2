/**
 * gRPC request metadata is bounded like HTTP headers (16 KiB): a call carrying more fails with
 * RESOURCE_EXHAUSTED before reaching a handler; a normal call on the same server still works.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { type ServingClient, servingClient } from '../src/serving/grpc-client.js';
import { MAX_METADATA_BYTES } from '../src/serving/grpc-metadata-limit.js';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';

let app: ServingApp;
let client: ServingClient;

beforeAll(async () => {
  const dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), [
    { id: 'p1', ltv: 12.5, level: 1n, country: 'SE', is_payer: true, last_login: new Date(0), tags: [] },
  ]);
  const config = makeConfig({ datasets: [featuresDataset('players', path.join(dir, 'players'))] });
  await load(config, 'players');
  app = await serve(config);
  client = servingClient(`127.0.0.1:${app.grpcPort}`);
});

afterAll(async () => {
  client?.close();
  await app?.close();
});

function getWith(meta: grpc.Metadata): Promise<{ err: grpc.ServiceError | null; res: unknown }> {
  return new Promise((resolve) => {
    client.Get!({ entity_id: 'p1', datasets: ['players'] }, meta, { deadline: Date.now() + 5000 }, (err, res) => resolve({ err, res }));
  });
}

describe('gRPC metadata size', () => {
  it('is bounded at 16 KiB, like HTTP headers', () => {
    expect(MAX_METADATA_BYTES).toBe(16 * 1024);
  });

  it('refuses a call whose metadata is larger (64 KiB value) with RESOURCE_EXHAUSTED', async () => {
    const meta = new grpc.Metadata();
    meta.set('x-big', 'a'.repeat(64 * 1024));
    const { err } = await getWith(meta);
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.metadata.get('malt-error-code')).toEqual(['HEADERS_TOO_LARGE']);
    expect(err?.details).toMatch(/at most 16384/);
  });

  it('refuses metadata just over the bound, accepts a normal call afterwards', async () => {
    const over = new grpc.Metadata();
    over.set('x-big', 'a'.repeat(MAX_METADATA_BYTES + 1));
    expect((await getWith(over)).err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const ok = new grpc.Metadata();
    ok.set('x-small', 'a'.repeat(1024));
    const { err, res } = await getWith(ok);
    expect(err).toBeNull();
    expect((res as { entity_id: string }).entity_id).toBe('p1');
  });
});
