/**
 * Starts the bench's server processes (malt and the baselines, bench/servers/*.mjs), each in its
 * own node process pinned to the server core, and talks to them over their IPC channel.
 */
import { fileURLToPath } from 'node:url';
import { SERVER_CORE, spawnPinned, stopChild } from './processes.mjs';

const SCRIPTS = {
  malt: 'malt-server.mjs',
  'node-http': 'http-baseline.mjs',
  fastify: 'http-baseline.mjs',
  naive: 'naive-redis.mjs',
  'grpc-js': 'grpc-baseline.mjs',
  'grpc-raw': 'grpc-raw-http2.mjs',
};

/**
 * `kind` picks the script; `args` are its arguments (after the kind for the HTTP baselines);
 * `nodeFlags` e.g. ['--cpu-prof', '--cpu-prof-dir', dir] for a profile of the server; `node` the
 * node binary (default: the one running the bench); `onStdout(chunk)` sees its stdout.
 */
export async function startServer(kind, args, { nodeFlags = [], label = kind, readyTimeoutMs = 120_000, node = process.execPath, env, onStdout } = {}) {
  const script = fileURLToPath(new URL(`../servers/${SCRIPTS[kind]}`, import.meta.url));
  const argv = [...nodeFlags, script, ...(kind === 'node-http' || kind === 'fastify' ? [kind] : []), ...args];
  const child = spawnPinned(node, argv, { core: SERVER_CORE, ipc: true, env: env ? { ...process.env, ...env } : undefined });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  child.stdout.on('data', onStdout ?? (() => undefined));
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within ${readyTimeoutMs} ms\n${stderr}`)), readyTimeoutMs);
    child.on('message', (m) => {
      if (m?.type === 'ready') { clearTimeout(timer); resolve(m); }
      if (m?.type === 'error') { clearTimeout(timer); reject(new Error(`${label} failed to start: ${m.message}`)); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${label} exited with ${code} before it was ready\n${stderr}`)); });
  });
  let nextId = 1;
  return {
    kind, label, pid: child.pid, pinnedCore: child.pinnedCore,
    httpPort: ready.httpPort, grpcPort: ready.grpcPort,
    /** The server's own counters (malt: cache hits/misses). */
    stats() {
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => { child.off('message', on); resolve(null); }, 2000);
        const on = (m) => {
          if (m?.type === 'stats' && m.id === id) { clearTimeout(timer); child.off('message', on); resolve(m.stats); }
        };
        child.on('message', on);
        // A server that has exited answers null (its exit code and stderr say why).
        if (!child.connected) { clearTimeout(timer); child.off('message', on); resolve(null); return; }
        child.send({ type: 'stats', id }, (err) => { if (err) { clearTimeout(timer); child.off('message', on); resolve(null); } });
      });
    },
    stop: () => stopChild(child, 5000),
    get stderr() { return stderr; },
    /** null while it runs. */
    get exitCode() { return child.exitCode ?? child.signalCode; },
  };
}
