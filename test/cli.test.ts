import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { KeyLayout } from '../src/keys.js';
import { writeSampleLake } from '../src/sample/sample-lake.js';
import { freePort } from './support/redis-server.js';
import { featuresDataset, redisUrl, tmpDir, uniquePrefix, writePlayers, type PlayerRow } from './support/fixtures.js';
import { runMalt as malt } from './support/cli-runner.js';

const BIN = path.resolve('bin/malt.js');
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});


const row = (id: string, ltv: number): PlayerRow => ({ id, ltv, level: 1, country: 'US', is_payer: true, last_login: null, tags: null });

function writeConfig(dir: string, doc: Record<string, unknown>): string {
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

async function waitHttp(url: string, ok: (body: any) => boolean, ms: number): Promise<any> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = await res.json();
      if (ok(last)) return last;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return last;
}

describe('malt CLI', () => {
  it('an invalid config exits non-zero listing every problem', async () => {
    const dir = tmpDir();
    const file = writeConfig(dir, { datasets: [{ name: 'a', source: { uri: 'x' }, key: 'k', columns: { c: 'decimal' } }, { name: 'a', source: { uri: 'y' } }], nope: true });
    const r = await malt(['load', '-c', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error CONFIG_INVALID');
    expect(r.stderr).toContain('(root).nope: unknown key');
    expect(r.stderr).toContain('datasets[0].columns.c: unknown type "decimal"');
    expect(r.stderr).toContain('datasets[1].key: is required');
    expect(r.stderr).toContain('duplicate dataset name "a"');
  });

  it('serve with an invalid config exits 2 listing the problems, without a stack trace', async () => {
    const dir = tmpDir();
    const file = writeConfig(dir, { serving: { http_port: 'x' }, datasets: [] });
    const r = await malt(['serve', '-c', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error CONFIG_INVALID');
    expect(r.stderr).toContain('serving.http_port');
    expect(r.stderr).toContain('datasets: must be a non-empty list');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('load, versions, rollback; a refused load exits non-zero naming the column and file', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'lake.parquet');
    writePlayers(lake, [row('a', 1)]);
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: uniquePrefix() };
    const file = writeConfig(dir, { datasets: [featuresDataset('cli_pf', lake)] });
    const first = await malt(['load', '-c', file], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/cli_pf: published version 1/);
    expect(first.stdout).toMatch(/entities 1, duplicates 0, rejected 0/);
    const skipped = await malt(['load', '-c', file], env);
    expect(skipped.stdout).toMatch(/source unchanged .* still serving version 1/);
    expect((await malt(['load', '--force', '-c', file], env)).stdout).toMatch(/published version 2 \(was 1\)/);

    const bad = writeConfig(dir, { datasets: [featuresDataset('cli_pf', lake, { columns: { ltv: 'double', missing_col: 'string' } })] });
    const refused = await malt(['load', '-c', bad], env);
    expect(refused.code).toBe(3); // a refusal by the data (docs/operations.md#exit-codes)
    expect(refused.stderr).toContain('error SCHEMA_MISMATCH');
    expect(refused.stderr).toContain('"missing_col"');
    expect(refused.stderr).toContain(lake);
    expect(refused.stderr).toContain('the served version is unchanged');

    const versions = await malt(['versions', 'cli_pf', '--json', '-c', file], env);
    const parsed = JSON.parse(versions.stdout);
    expect(parsed.current_version).toBe('2');
    expect(parsed.versions.map((v: { version: string; state: string }) => [v.version, v.state])).toEqual([['2', 'published'], ['1', 'published']]);
    expect(Object.keys(parsed.versions[0])).toEqual(expect.arrayContaining(['rejected_reasons', 'source_fingerprint', 'loaded_at', 'duration_ms', 'current']));
    const rb = await malt(['rollback', 'cli_pf', '-c', file], env);
    expect(rb.stdout).toContain('now serving version 1 (was 2)');
    expect((await malt(['rollback', 'cli_pf', '--to', '2', '-c', file], env)).stdout).toContain('now serving version 2 (was 1)');
    const unknown = await malt(['rollback', 'nope', '-c', file], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error DATASET_NOT_FOUND');
  });

  it('a serving process sees a version published by another process within 1 s', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'x.parquet');
    writePlayers(lake, [row('a', 1)]);
    const port = await freePort();
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: uniquePrefix(), MALT_HTTP_PORT: String(port), MALT_GRPC_PORT: String(await freePort()) };
    const file = writeConfig(dir, { datasets: [featuresDataset('xp', lake)] });
    expect((await malt(['load', '-c', file], env)).code).toBe(0);
    const server = spawn(process.execPath, [BIN, 'serve', '-c', file], { env: { ...process.env, ...env }, stdio: 'ignore' });
    children.push(server);
    const url = `http://127.0.0.1:${port}/v1/entities/a`;
    expect((await waitHttp(url, (b) => b?.datasets?.[0]?.version === '1', 15_000))?.datasets?.[0]?.version).toBe('1');
    writePlayers(lake, [row('a', 7)]);
    expect((await malt(['load', '-c', file], env)).code).toBe(0);
    const published = Date.now();
    const body = await waitHttp(url, (b) => b?.datasets?.[0]?.version === '2', 3000);
    expect(body.datasets[0].features.ltv.value).toBe(7);
    expect(Date.now() - published).toBeLessThan(1000);
    // `malt get` calls the running server over gRPC.
    const got = await malt(['get', 'a', '--addr', `127.0.0.1:${env.MALT_GRPC_PORT}`]);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout).datasets[0]).toMatchObject({ dataset: 'xp', version: '2', found: true });
    const unknown = await malt(['get', 'a', '--datasets', 'nope', '--addr', `127.0.0.1:${env.MALT_GRPC_PORT}`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error DATASET_NOT_FOUND');
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    expect(server.exitCode).toBe(0);
    const down = await malt(['get', 'a', '--addr', `127.0.0.1:${env.MALT_GRPC_PORT}`]);
    expect(down.stderr).toContain('error SERVER_UNREACHABLE');
  });

  it('with no Redis URL, load and serve share an embedded redis-server that stops with malt', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'e.parquet');
    writePlayers(lake, [row('a', 3)]);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { REDIS_URL: '', MALT_HTTP_PORT: String(port), MALT_GRPC_PORT: String(await freePort()) };
    const file = writeConfig(dir, { redis: { embedded_dir: './redis-data' }, datasets: [featuresDataset('emb', lake)] });
    const loaded = await malt(['load', '-c', file], env);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stderr).toMatch(/started embedded redis-server/);
    expect(existsSync(path.join(dir, 'redis-data', 'appendonlydir'))).toBe(true);
    const server = spawn(process.execPath, [BIN, 'serve', '-c', file], { env: { ...process.env, ...env }, stdio: 'ignore' });
    children.push(server);
    // The data loaded by the first process persisted in the embedded server's directory.
    const body = await waitHttp(`http://127.0.0.1:${port}/v1/entities/a`, (b) => b?.datasets?.[0]?.found === true, 15_000);
    expect(body?.datasets?.[0]?.features?.ltv?.value).toBe(3);
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    expect(existsSync(path.join(dir, 'redis-data', 'redis.sock'))).toBe(false);
  });

  it('a killed load leaves the served version untouched and the next load reclaims its partial data', async () => {
    const dir = tmpDir();
    writeSampleLake({ dir, players: 150_000, files: 1 });
    const lake = path.join(dir, 'player_features');
    const prefix = uniquePrefix();
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix };
    const small = path.join(dir, 'small.parquet');
    writePlayers(small, [row('p_000001', 42)]);
    const cfgSmall = writeConfig(dir, { loader: { lock_ttl_ms: 1000 }, datasets: [{ name: 'kl', source: { uri: small }, key: 'player_id' }] });
    expect((await malt(['load', '-c', cfgSmall], env)).code).toBe(0);
    const cfgBig = writeConfig(dir, { loader: { lock_ttl_ms: 1000, max_batches_in_flight: 1, batch_rows: 200 }, datasets: [{ name: 'kl', source: { uri: lake }, key: 'player_id' }] });
    const loader = spawn(process.execPath, [BIN, 'load', '-c', cfgBig], { env: { ...process.env, ...env }, stdio: 'ignore' });
    children.push(loader);
    const redis = new Redis(redisUrl());
    const keys = new KeyLayout(prefix);
    // Kill -9 once version 2 has rows in Redis but before it is published.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await redis.exists(keys.bucket('kl', 2, 0))) === 0) await new Promise((r) => setTimeout(r, 5));
    const died = new Promise((r) => loader.once('exit', r));
    loader.kill('SIGKILL');
    await died;
    expect(await redis.hget(keys.manifest('kl', 2), 'state')).toBe('loading');
    expect(await redis.get(keys.current('kl'))).toMatch(/^1:[0-9a-f]+$/);
    // The lock of the dead loader expires (lock_ttl_ms 1000); then a new load reclaims version 2.
    await new Promise((r) => setTimeout(r, 1100));
    const next = await malt(['load', '-c', cfgSmall, '--force'], env);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('published version 3 (was 1)');
    expect(await redis.exists(keys.manifest('kl', 2))).toBe(0);
    expect(await redis.exists(keys.bucket('kl', 2, 0))).toBe(0);
    redis.disconnect();
  });

  it('Ctrl+C during a load stops it cleanly: exit 130, lock released, nothing published', async () => {
    const dir = tmpDir();
    writeSampleLake({ dir, players: 150_000, files: 1 });
    const prefix = uniquePrefix();
    const env = { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix };
    const file = writeConfig(dir, { loader: { max_batches_in_flight: 1, batch_rows: 200 }, datasets: [{ name: 'ir', source: { uri: path.join(dir, 'player_features') }, key: 'player_id' }] });
    const loader = spawn(process.execPath, [BIN, 'load', '-c', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(loader);
    let stderr = '';
    loader.stderr?.on('data', (d) => (stderr += d));
    const redis = new Redis(redisUrl());
    const keys = new KeyLayout(prefix);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (await redis.exists(keys.bucket('ir', 1, 0))) === 0) await new Promise((r) => setTimeout(r, 5));
    const exited = new Promise<number | null>((r) => loader.once('exit', (code) => r(code)));
    loader.kill('SIGINT');
    expect(await exited).toBe(130);
    // Its own code: not LOAD_IN_PROGRESS (which means another loader holds the lock).
    expect(stderr).toContain('error LOAD_INTERRUPTED');
    expect(stderr).not.toContain('LOAD_IN_PROGRESS');
    expect(await redis.exists(keys.lock('ir'))).toBe(0);
    expect(await redis.get(keys.current('ir'))).toBeNull();
    expect(await redis.hget(keys.manifest('ir', 1), 'state')).toBe('failed');
    redis.disconnect();
  });

  it('explains how to install redis-server when it is missing', async () => {
    const dir = tmpDir();
    const file = writeConfig(dir, { datasets: [featuresDataset('nr', path.join(dir, 'x.parquet'))] });
    // A PATH with node but without redis-server.
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const r = await malt(['load', '-c', file], { REDIS_URL: '', PATH: bin });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error REDIS_SERVER_MISSING');
    expect(r.stderr).toContain('apt-get install -y redis-server');
  });
});

describe('malt sample', () => {
  it('suggests a command that works outside the clone (node <abs bin/malt.js>), not npx', async () => {
    const dir = tmpDir();
    const r = await malt(['sample', '--players', '50', '--dir', path.join(dir, 'lake')], {}, dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('npx');
    const m = /next: node (".*?") load/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const bin = JSON.parse(m![1]!) as string;
    expect(path.isAbsolute(bin)).toBe(true);
    expect(existsSync(bin)).toBe(true);
    const check = await malt(['check-config'], {}, dir);
    expect(check.stdout).toContain('config OK');
  });
});
