/**
 * Redis Cluster with credentials and TLS: seeds written `redis://:password@host:port` or
 * `rediss://…` carry the password / ACL user and TLS to every node of the cluster (nodes the
 * client discovers too). Real clusters on 127.0.0.1: one with requirepass + masterauth, one
 * TLS-only (client port, cluster bus and replication).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { describeTarget, parseSeed } from '../src/redis/redis-client.js';
import { childrenStoppedAfterAll, MALT_BIN, runMalt } from './support/cli-runner.js';
import { tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { startTestCluster, type TestCluster } from './support/redis-cluster.js';
import { freePort } from './support/redis-server.js';
import { makeCa, makeLeaf } from './support/test-certs.js';

const clusters: TestCluster[] = [];
afterAll(async () => {
  for (const c of clusters) await c.stop();
});
// After hooks run last-registered first: the servers stop before the clusters under them.
const children = childrenStoppedAfterAll();

const datasets = [{ name: 'd', kind: 'features', source: { format: 'parquet', uri: '/tmp/x' }, key: 'player_id', columns: { ltv: 'double' } }];

describe('cluster seeds with credentials and TLS (config)', () => {
  it('accepts redis:// and rediss:// seeds with credentials and parses them', () => {
    const c = loadConfig({ document: { datasets }, env: { REDIS_CLUSTER: 'rediss://app:p%40ss@127.0.0.1:7000,rediss://app:p%40ss@127.0.0.1:7001' }, baseDir: '/tmp' });
    expect(c.redis.cluster).toHaveLength(2);
    expect(parseSeed(c.redis.cluster[0] as string)).toEqual({ host: '127.0.0.1', port: 7000, username: 'app', password: 'p@ss', tls: true });
    expect(parseSeed('127.0.0.1:7002')).toEqual({ host: '127.0.0.1', port: 7002, tls: false });
  });

  it('refuses seeds whose scheme or credentials differ, naming why', () => {
    expect(() => loadConfig({ document: { redis: { cluster: ['redis://:a@127.0.0.1:1', 'redis://:b@127.0.0.1:2'] }, datasets }, env: {}, baseDir: '/tmp' }))
      .toThrow(/same scheme and credentials/);
    expect(() => loadConfig({ document: { redis: { cluster: ['rediss://127.0.0.1:1', '127.0.0.1:2'] }, datasets }, env: {}, baseDir: '/tmp' }))
      .toThrow(/same scheme and credentials/);
    expect(() => loadConfig({ document: { redis: { cluster: ['http://127.0.0.1:1'] }, datasets }, env: {}, baseDir: '/tmp' })).toThrow(/host:port, or redis/);
  });

  it('never prints the password when it names the target', () => {
    const s = describeTarget({ url: null, cluster: ['redis://app:secret@127.0.0.1:7000', 'redis://app:secret@127.0.0.1:7001'] });
    expect(s).not.toContain('secret');
    expect(s).toBe('cluster redis://***@127.0.0.1:7000,redis://***@127.0.0.1:7001');
  });
});

/** Loads a small table with `malt load` and serves it with `malt serve` (children) on the cluster. */
async function loadAndServe(seeds: string[], env: NodeJS.ProcessEnv = {}): Promise<{ load: Awaited<ReturnType<typeof runMalt>>; base: string | null }> {
  const dir = tmpDir();
  writePlayers(path.join(dir, 'players', 'part-0.parquet'), Array.from({ length: 30 }, (_, i) => ({ id: `c${i}`, ltv: i + 0.25, level: BigInt(i), country: 'SE', is_payer: i % 2 === 0, last_login: new Date(0), tags: ['x'] })));
  const file = path.join(dir, 'malt.json');
  writeFileSync(file, JSON.stringify({ datasets: [{ name: 'players', kind: 'features', source: { format: 'parquet', uri: path.join(dir, 'players') }, key: 'player_id', columns: { ltv: 'double', level: 'int64' } }] }));
  const common = { ...env, REDIS_CLUSTER: seeds.join(','), MALT_KEY_PREFIX: uniquePrefix(), REDIS_URL: '' };
  const load = await runMalt(['load', '-c', file], common);
  if (load.code !== 0) return { load, base: null };
  const httpPort = await freePort();
  const child = spawn(process.execPath, [MALT_BIN, 'serve', '-c', file], { env: { ...process.env, ...common, MALT_HTTP_PORT: String(httpPort), MALT_GRPC_PORT: String(await freePort()) }, stdio: 'ignore' });
  children.push(child);
  const base = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 20_000;
  while ((await fetch(`${base}/readyz`).catch(() => null))?.status !== 200) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('malt serve on the cluster did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { load, base };
}

async function ltvOf(base: string, id: string): Promise<unknown> {
  const body = (await (await fetch(`${base}/v1/entities/${id}`)).json()) as { datasets: { features: Record<string, { value: unknown }> }[] };
  return body.datasets[0]?.features['ltv']?.value;
}

describe('a password-protected cluster', () => {
  it('loads and serves with redis://:password@ seeds, and a wrong password is refused', { timeout: 120_000 }, async () => {
    const cluster = await startTestCluster({ masters: 3, password: 'cl-pw' });
    clusters.push(cluster);
    expect(cluster.seeds[0]).toMatch(/^redis:\/\/:cl-pw@127\.0\.0\.1:\d+$/);
    const { load, base } = await loadAndServe(cluster.seeds);
    expect(load.code, load.stderr).toBe(0);
    for (const i of [0, 7, 29]) expect(await ltvOf(base as string, `c${i}`)).toBe(i + 0.25);
    // The data is on the cluster (a dataset's keys share one hash slot, on whichever master owns it).
    const perNode = await Promise.all((await cluster.masters()).map(async (p) => Number((await cluster.cli(p, 'dbsize')).trim())));
    expect(perNode.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    const wrong = cluster.seeds.map((s) => s.replace(':cl-pw@', ':nope@'));
    const refused = await loadAndServe(wrong);
    expect(refused.load.code).not.toBe(0);
    expect(refused.load.stderr).not.toContain('nope');
    expect(refused.load.stderr).toMatch(/Redis refused authentication: WRONGPASS/); // Redis's reason, not "no startup node"
    const noPassword = cluster.seeds.map((s) => s.replace('redis://:cl-pw@', ''));
    const anonymous = await loadAndServe(noPassword);
    expect(anonymous.load.code).not.toBe(0);
    expect(anonymous.load.stderr).toMatch(/Redis refused authentication: NOAUTH/);
  });
});

describe('a TLS-only cluster', () => {
  it('loads and serves with rediss:// seeds (CA from NODE_EXTRA_CA_CERTS), and plain seeds fail', { timeout: 120_000 }, async () => {
    const certs = tmpDir();
    makeCa(certs, 'ca');
    makeLeaf(certs, 'ca', 'redis', 'serverAuth,clientAuth'); // the cluster bus is mutual TLS between nodes
    const tls = { cert: path.join(certs, 'redis.crt'), key: path.join(certs, 'redis.key'), ca: path.join(certs, 'ca.crt') };
    const cluster = await startTestCluster({ masters: 3, tls });
    clusters.push(cluster);
    expect(cluster.seeds[0]).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+$/);
    const { load, base } = await loadAndServe(cluster.seeds, { NODE_EXTRA_CA_CERTS: tls.ca });
    expect(load.code, load.stderr).toBe(0);
    for (const i of [1, 12, 28]) expect(await ltvOf(base as string, `c${i}`)).toBe(i + 0.25);
    // Without the CA the certificate is not trusted; without TLS the nodes do not answer.
    expect((await loadAndServe(cluster.seeds)).load.code).not.toBe(0);
    expect((await loadAndServe(cluster.seeds.map((s) => s.replace('rediss://', '')), { NODE_EXTRA_CA_CERTS: tls.ca })).load.code).not.toBe(0);
  });
});
