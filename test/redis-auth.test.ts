import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runLoad } from '../src/cli/load-command.js';
import { freePort } from './support/redis-server.js';
import { makeCa, makeLeaf } from './support/test-certs.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, uniquePrefix, writePlayers, type PlayerRow } from './support/fixtures.js';

const apps = appsClosedAfterAll();
const servers: ChildProcess[] = [];
const rows: PlayerRow[] = Array.from({ length: 5 }, (_, i) => ({ id: `p${i}`, ltv: i, level: i, country: 'US', is_payer: true, last_login: null, tags: null }));
let lake: string;

/** A redis-server of this file's own with extra arguments; resolves once it answers on `port`. */
async function redisServer(args: string[], probe: () => Promise<unknown>): Promise<void> {
  const dir = tmpDir();
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], { stdio: 'ignore' });
  servers.push(child);
  const end = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await probe().then(() => true, () => false)) return;
    if (Date.now() > end) throw new Error('redis-server did not start in 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ping = (url: string, opts: Record<string, unknown> = {}) => async () => {
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...opts });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await c.ping();
  } finally {
    c.disconnect();
  }
};

beforeAll(() => {
  lake = tmpDir();
  writePlayers(path.join(lake, 'p.parquet'), rows);
});
afterAll(() => {
  for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
});

async function loadAndServe(url: string): Promise<number> {
  const cfg = makeConfig({ datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] }, { url });
  await load(cfg, 'feat');
  const app = await serve(cfg);
  apps.push(app);
  const res = await app.http.inject({ url: '/v1/entities/p2' });
  expect(res.json().datasets[0].features.ltv.value).toBe(2);
  return res.statusCode;
}

describe('Redis with a password, an ACL user and rediss://', () => {
  it('requirepass: the password in the URL is used by loads and serving; without it nothing connects', async () => {
    const port = await freePort();
    await redisServer(['--port', String(port), '--requirepass', 'redis-pw'], ping(`redis://:redis-pw@127.0.0.1:${port}`));
    expect(await loadAndServe(`redis://:redis-pw@127.0.0.1:${port}`)).toBe(200);
    const noPw = makeConfig({ datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] }, { url: `redis://127.0.0.1:${port}` });
    // ioredis reports the refused AUTH as a closed connection; malt keeps Redis's own refusal (NOAUTH / WRONGPASS).
    await expect(serve(noPw)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/^cannot connect to Redis at redis:\/\/127\.0\.0\.1\S*: Redis refused authentication: NOAUTH /) });
    const wrong = makeConfig({ datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] }, { url: `redis://:nope-secret@127.0.0.1:${port}` });
    const refused = await serve(wrong).then(() => null, (e: Error & { code?: string }) => e);
    expect(refused).toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/^cannot connect to Redis at redis:\/\/\*\*\*@127\S*: Redis refused authentication: WRONGPASS /) });
    expect(refused?.message).not.toContain('nope-secret');
    expect(refused?.message).not.toContain('Connection is closed');
    // `malt load` says the same: a refused password is named, not "Connection is closed".
    await expect(runLoad(wrong, ['feat'], false)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringMatching(/: Redis refused authentication: WRONGPASS /) });
  });

  it('an ACL user (user:password@) limited to its key prefix loads and serves', async () => {
    const port = await freePort();
    const prefix = uniquePrefix();
    // The default user is off; malt's user may only touch its own prefix and channels.
    await redisServer(['--port', String(port), '--user', 'default', 'off', '--user', 'malt', 'on', '>acl-pw', `~${prefix}:*`, '&*', '+@all'], ping(`redis://malt:acl-pw@127.0.0.1:${port}`));
    const url = `redis://malt:acl-pw@127.0.0.1:${port}`;
    const cfg = makeConfig({ datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] }, { url, prefix });
    await load(cfg, 'feat');
    const app = await serve(cfg);
    apps.push(app);
    expect((await app.http.inject({ url: '/v1/entities/p3' })).json().datasets[0].features.ltv.value).toBe(3);
    // The default user is off: a client without the ACL user's credentials gets nothing.
    await expect(ping(`redis://127.0.0.1:${port}`)()).rejects.toThrow();
    await expect(ping(`redis://malt:wrong@127.0.0.1:${port}`)()).rejects.toThrow();
  });

  it('rediss:// (TLS, CA via NODE_EXTRA_CA_CERTS) reaches a TLS-only redis-server from the CLI', async () => {
    const certs = tmpDir();
    makeCa(certs, 'rca');
    makeLeaf(certs, 'rca', 'redis', 'serverAuth');
    const port = await freePort();
    const ca = path.join(certs, 'rca.crt');
    await redisServer(['--port', '0', '--tls-port', String(port), '--tls-cert-file', path.join(certs, 'redis.crt'), '--tls-key-file', path.join(certs, 'redis.key'), '--tls-ca-cert-file', ca, '--tls-auth-clients', 'no', '--requirepass', 'tls-pw'],
      ping(`rediss://:tls-pw@127.0.0.1:${port}`, { tls: { ca: readFileSync(ca) } }));
    const dir = tmpDir();
    const file = path.join(dir, 'malt.yaml');
    writeFileSync(file, stringify({ redis: { key_prefix: uniquePrefix() }, datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] }));
    const env = { ...process.env, REDIS_URL: `rediss://:tls-pw@127.0.0.1:${port}`, NODE_EXTRA_CA_CERTS: ca };
    const run = (args: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.resolve('bin/malt.js'), ...args, '-c', file], { env });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      child.on('exit', (code) => resolve({ code, out }));
    });
    const loaded = await run(['load']);
    expect(loaded.code, loaded.out).toBe(0);
    const versions = await run(['versions', 'feat', '--json']);
    expect(versions.code, versions.out).toBe(0);
    expect(versions.out).toContain('"rows": 5');
  }, 120_000);
});
