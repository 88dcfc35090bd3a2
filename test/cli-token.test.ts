/**
 * `malt get --token` / MALT_TOKEN against a server with auth keys: the token is sent as
 * `authorization: Bearer` gRPC metadata; without it the server refuses the call.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { hashToken } from '../src/auth/api-keys.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'malt.js');
const TOKEN = 'cli-reader-token-0123456789';
const apps = appsClosedAfterAll();
let app: ServingApp;

interface Run { code: number | null; stdout: string; stderr: string }
function malt(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const { MALT_TOKEN: _drop, ...base } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...base, ...env } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  const dir = tmpDir();
  writePlayers(path.join(dir, 'p.parquet'), [{ id: 'p1', ltv: 7, level: 1, country: 'SE', is_payer: true, last_login: null, tags: null }]);
  const cfg = makeConfig({
    auth: { keys: [{ name: 'reader', hash: hashToken(TOKEN), scopes: ['read'] }] },
    datasets: [featuresDataset('feat', path.join(dir, 'p.parquet'))],
  });
  await load(cfg, 'feat');
  app = await serve(cfg);
  apps.push(app);
});

describe('malt get with auth keys on the server', () => {
  it('without a token the call is refused (UNAUTHENTICATED)', async () => {
    const r = await malt(['get', 'p1', '--addr', `127.0.0.1:${app.grpcPort}`]);
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stderr).toMatch(/UNAUTHENTICATED/);
  });

  it('--token sends authorization: Bearer and gets the entity', async () => {
    const r = await malt(['get', 'p1', '--addr', `127.0.0.1:${app.grpcPort}`, '--token', TOKEN]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ entity_id: 'p1' });
  });

  it('MALT_TOKEN is used when --token is absent; a wrong token is refused', async () => {
    const r = await malt(['get', 'p1', '--addr', `127.0.0.1:${app.grpcPort}`], { MALT_TOKEN: TOKEN });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ entity_id: 'p1' });
    const wrong = await malt(['get', 'p1', '--addr', `127.0.0.1:${app.grpcPort}`, '--token', 'not-the-token']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/UNAUTHENTICATED/);
  });
});
