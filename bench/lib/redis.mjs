/**
 * The bench's own redis-server: a free 127.0.0.1 port, its own temp dir, no persistence,
 * pinned with the load generators (servers get the other core). Stopped by PID.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { CLIENT_CORE, freePort, sleep, spawnPinned, stopChild } from './processes.mjs';

function ping(port) {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host: '127.0.0.1', port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(300, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'malt-bench-redis-'));
  const child = spawnPinned('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--protected-mode', 'yes', '--maxmemory', '0',
  ], { core: CLIENT_CORE });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.resume();
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr.slice(0, 500)}`);
    if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s');
    await sleep(30);
  }
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: false, enableAutoPipelining: false });
  return {
    url, port, pid: child.pid, client,
    async usedMemory() {
      const info = await client.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)?.[1]);
    },
    async version() {
      const info = await client.info('server');
      return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    },
    async stop() {
      client.disconnect();
      await stopChild(child, 2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** used_memory after the server settles (client buffers drained, lazy frees done). */
export async function settledUsedMemory(redis) {
  await sleep(200);
  return redis.usedMemory();
}
