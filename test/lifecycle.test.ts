import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';
import { call, servingClient } from '../src/serving/grpc-client.js';

describe('close()', () => {
  it('refuses new work with SHUTTING_DOWN at once, drains, stops both servers, and is idempotent', async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'l.parquet'), [{ id: 'a', ltv: 1, level: 1, country: 'US', is_payer: true, last_login: null, tags: null }]);
    const cfg = makeConfig({ datasets: [featuresDataset('life', path.join(dir, 'l.parquet'))] });
    await load(cfg, 'life');
    const app = await serve(cfg);
    const client = servingClient(`127.0.0.1:${app.grpcPort}`);
    expect((await call<{ datasets: { found: boolean }[] }>(client, 'Get', { entity_id: 'a', datasets: [] })).datasets[0]!.found).toBe(true);

    const closing = app.close();
    const refused = await app.http.inject({ url: '/v1/entities/a' });
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('SHUTTING_DOWN');
    expect(app.close()).toBe(closing); // one close path, however often it is called
    await closing;
    await expect(call(client, 'Get', { entity_id: 'a', datasets: [] }, 1000)).rejects.toMatchObject({ code: expect.any(Number) });
    await expect(fetch(`http://127.0.0.1:${app.httpPort}/healthz`)).rejects.toThrow();
    client.close();
  });
});
