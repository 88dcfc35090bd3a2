/** GET /metrics follows the auth policy: with API keys configured it needs the `read` scope. */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';

const apps = appsClosedAfterAll();
const hash = (t: string): string => `sha256:${createHash('sha256').update(t).digest('hex')}`;

describe('/metrics auth', () => {
  it('needs a key with the read scope once keys are configured: 401 without, 403 with write only, 200 with read', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'p.parquet');
    writePlayers(lake, [{ id: 'a', ltv: 1, level: 1, country: 'DE', is_payer: true, last_login: null, tags: null }]);
    const config = makeConfig({
      datasets: [featuresDataset('ma_pf', lake)],
      auth: { keys: [{ name: 'prometheus', hash: hash('scrape-token'), scopes: ['read'] }, { name: 'writer', hash: hash('write-token'), scopes: ['write'] }] },
    });
    await load(config, 'ma_pf');
    const app = await serve(config);
    apps.push(app);
    const url = `http://127.0.0.1:${app.httpPort}/metrics`;
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    const writer = await fetch(url, { headers: { authorization: 'Bearer write-token' } });
    expect(writer.status).toBe(403);
    expect(((await writer.json()) as { error: { code: string } }).error.code).toBe('PERMISSION_DENIED');
    const reader = await fetch(url, { headers: { authorization: 'Bearer scrape-token' } });
    expect(reader.status).toBe(200);
    const text = await reader.text();
    // The refusals above were counted, by code.
    expect(text).toMatch(/^malt_errors_total\{transport="http",code="UNAUTHENTICATED"\} [1-9]/m);
    expect(text).toMatch(/^malt_errors_total\{transport="http",code="PERMISSION_DENIED"\} [1-9]/m);
    // /healthz stays public (probes carry no key).
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/healthz`)).status).toBe(200);
  });
});
