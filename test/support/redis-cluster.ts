/**
 * Starts a real Redis Cluster on 127.0.0.1 for the tests: `masters` redis-server processes (and
 * `replicas` replicas per master) with --cluster-enabled yes on free ports, joined with
 * `redis-cli --cluster create`, ready once every node reports cluster_state:ok. Stopped by PID.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

export interface ClusterNode {
  readonly port: number;
  readonly process: ChildProcess;
}

export interface TestCluster {
  /** Seed nodes as malt takes them (`redis.cluster`). */
  readonly seeds: string[];
  readonly nodes: readonly ClusterNode[];
  /** Runs redis-cli against one node; resolves with its stdout. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** Ports of the current masters (from CLUSTER NODES). */
  masters(): Promise<number[]>;
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  masters?: number;
  replicas?: number;
  /** requirepass + masterauth on every node; seeds become `redis://:<password>@host:port`. */
  password?: string;
  /** TLS only (cluster bus and replication too): cert/key/CA files for 127.0.0.1; seeds become `rediss://`. */
  tls?: { cert: string; key: string; ca: string };
}

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicas ?? 0;
  const tlsArgs = opts.tls ? ['--tls', '--cacert', opts.tls.ca] : [];
  const authArgs = opts.password ? ['-a', opts.password, '--no-auth-warning'] : [];
  const dir = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-test-cluster-'));
  const nodes: ClusterNode[] = [];
  const cli = async (port: number, ...args: string[]): Promise<string> => {
    try {
      return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...tlsArgs, ...authArgs, ...args], { timeout: 60_000 })).stdout;
    } catch (err) {
      const e = err as Error & { stdout?: string; stderr?: string };
      throw new Error(`${e.message}\n${(e.stdout ?? '').slice(-2000)}\n${e.stderr ?? ''}`);
    }
  };
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => new Promise<void>((resolve) => {
      if (n.process.exitCode !== null || n.process.signalCode !== null) return resolve();
      n.process.once('exit', () => resolve());
      n.process.kill('SIGKILL');
    })));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const port = await freePort();
      const child = spawn('redis-server', [
        '--cluster-enabled', 'yes', '--port', String(port), '--bind', '127.0.0.1',
        '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir, '--dbfilename', `dump-${port}.rdb`,
        '--save', '', '--appendonly', 'no', '--cluster-node-timeout', '3000',
        ...(opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : []),
        ...(opts.tls ? ['--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no'] : []),
      ], { stdio: 'ignore' });
      nodes.push({ port, process: child });
    }
    for (const n of nodes) await waitPing(cli, n);
    await run('redis-cli', [...tlsArgs, ...authArgs, '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 60_000 });
    const scheme = opts.tls ? 'rediss://' : opts.password ? 'redis://' : '';
    const cred = opts.password ? `:${encodeURIComponent(opts.password)}@` : '';
    const cluster: TestCluster = {
      seeds: nodes.map((n) => `${scheme}${cred}127.0.0.1:${n.port}`),
      nodes,
      cli,
      async masters() {
        // Each node's own ROLE, not one node's CLUSTER NODES view, which lags after a failover.
        const roles = await Promise.all(nodes.map(async (n) => ((await cli(n.port, 'role').catch(() => '')).startsWith('master') ? n.port : null)));
        return roles.filter((p): p is number => p !== null);
      },
      async waitHealthy(timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const states = await Promise.all(nodes.map((n) => cli(n.port, 'cluster', 'info').catch(() => '')));
          if (states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'))) return;
          if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      stop,
    };
    await cluster.waitHealthy();
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitPing(cli: TestCluster['cli'], n: ClusterNode): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (n.process.exitCode !== null) throw new Error(`redis-server on ${n.port} exited with ${n.process.exitCode}`);
    if ((await cli(n.port, 'ping').catch(() => '')).startsWith('PONG')) return;
    if (Date.now() > deadline) throw new Error(`redis-server on ${n.port} did not start in 10 s`);
    await new Promise((r) => setTimeout(r, 30));
  }
}
