/**
 * The embedded default: with no Redis URL configured, malt runs its own redis-server on a unix
 * socket under redis.embedded_dir (default ./.malt/redis), with append-only persistence, and
 * stops it on close. A second malt process on the same directory (say `malt load` while
 * `malt serve` runs) finds the socket alive and shares that server instead of starting another.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MaltError } from '../errors.js';
import { type Logger, silentLogger } from '../telemetry/logger.js';

export interface EmbeddedRedis {
  readonly socketPath: string;
  /** True when this process started the server (and so stops it on close). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

function pingSocket(socketPath: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.createConnection(socketPath);
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Number of clients connected to the server at socketPath, not counting this probe. */
function otherClients(socketPath: string): Promise<number> {
  return new Promise((resolve) => {
    const sock = net.createConnection(socketPath);
    let data = '';
    const done = (n: number): void => {
      sock.destroy();
      resolve(n);
    };
    sock.setTimeout(1000, () => done(0));
    sock.once('error', () => done(0));
    sock.once('connect', () => sock.write('CLIENT LIST\r\n'));
    sock.on('data', (d) => {
      data += d.toString();
      const header = /^\$(\d+)\r\n/.exec(data);
      if (!header) return;
      if (Buffer.byteLength(data) < header[0].length + Number(header[1])) return;
      const lines = data.slice(header[0].length).split('\n').filter((l) => l.startsWith('id='));
      done(Math.max(0, lines.length - 1));
    });
  });
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

const INSTALL_HINT = 'install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, or set REDIS_URL to an existing Redis';

export async function startEmbeddedRedis(dir: string, logger: Logger = silentLogger): Promise<EmbeddedRedis> {
  const log = (msg: string): void => logger.info(msg);
  mkdirSync(dir, { recursive: true });
  const socketPath = path.join(dir, 'redis.sock');
  if (existsSync(socketPath) && (await pingSocket(socketPath))) {
    log(`using the embedded redis-server already running at ${socketPath}`);
    return { socketPath, owned: false, stop: async () => undefined };
  }
  if (!redisServerAvailable()) {
    throw new MaltError('REDIS_SERVER_MISSING', `no Redis URL is configured (redis.url or REDIS_URL) and redis-server is not on PATH: ${INSTALL_HINT}`);
  }
  rmSync(socketPath, { force: true });
  const child = spawn('redis-server', [
    '--port', '0', '--unixsocket', socketPath, '--unixsocketperm', '700', '--dir', dir,
    '--appendonly', 'yes', '--save', '3600 1 300 100', '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log'),
    // Its own process group: a Ctrl+C aimed at malt does not kill it while malt shuts down.
  ], { stdio: 'ignore', detached: true });
  await waitForSocket(child, socketPath);
  log(`started embedded redis-server (pid ${child.pid}) at ${socketPath}, data in ${dir}`);
  return {
    socketPath,
    owned: true,
    async stop() {
      // Another malt process (say `malt serve` started during this `malt load`) may still use it.
      const others = await otherClients(socketPath);
      if (others > 0) {
        log(`leaving the embedded redis-server (pid ${child.pid}) running: ${others} other client(s) use it`);
        child.unref();
        return;
      }
      await stopChild(child);
    },
  };
}

async function waitForSocket(child: ChildProcess, socketPath: string): Promise<void> {
  let exited = false;
  child.once('exit', () => { exited = true; });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited) throw new MaltError('INTERNAL', `redis-server exited at start; see ${path.join(path.dirname(socketPath), 'redis.log')}`);
    if (existsSync(socketPath) && (await pingSocket(socketPath))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new MaltError('INTERNAL', `redis-server did not come up within 10 s at ${socketPath}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM'); // redis-server writes its data and exits on SIGTERM
  });
}
