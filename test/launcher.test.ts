/**
 * malt's launcher (bin/malt.js + src/cli/launch-flags.ts): MALT_NODE_FLAGS (V8 flags such as
 * --max-semi-space-size, read only at start-up) makes it re-run node with them; a flag already
 * given to node wins; signals and the exit status pass through the launcher. Without flags to
 * add malt runs in the launcher's own process.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DEFAULT_SERVING_FLAGS, launchFlags } from '../src/cli/launch-flags.js';
import { MALT_BIN } from './support/cli-runner.js';
import { featuresDataset, redisUrl, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { freePort } from './support/redis-server.js';

const SEMI = '--max-semi-space-size=32';

describe('launchFlags', () => {
  const plan = (args: string[], env: Record<string, string> = {}, execArgv: string[] = []): string[] => launchFlags({ args, env, execArgv });

  it('adds no flags by default (no default measured better than V8\'s own sizing)', () => {
    expect(DEFAULT_SERVING_FLAGS).toEqual([]);
    for (const args of [['serve'], ['demo', '--players', '10'], ['load'], ['get', 'p1'], ['--help']]) expect(plan(args)).toEqual([]);
  });

  it('MALT_NODE_FLAGS gives the flags, for any command; empty means none', () => {
    expect(plan(['serve'], { MALT_NODE_FLAGS: '--max-semi-space-size=8  --max-old-space-size=512' })).toEqual(['--max-semi-space-size=8', '--max-old-space-size=512']);
    expect(plan(['load'], { MALT_NODE_FLAGS: '--max-old-space-size=256' })).toEqual(['--max-old-space-size=256']);
    expect(plan(['serve'], { MALT_NODE_FLAGS: '' })).toEqual([]);
  });

  it('never adds a flag node already has (command line or NODE_OPTIONS), nor in the process it re-ran', () => {
    const env = { MALT_NODE_FLAGS: SEMI };
    expect(plan(['serve'], env)).toEqual([SEMI]);
    expect(plan(['serve'], env, ['--max-semi-space-size=4'])).toEqual([]);
    expect(plan(['serve'], { ...env, NODE_OPTIONS: '--enable-source-maps --max_semi_space_size=4' })).toEqual([]);
    expect(plan(['serve'], { ...env, MALT_LAUNCHED: '1' })).toEqual([]);
  });
});

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** The node processes under `pid` (Linux /proc), with their command lines. */
function childProcesses(pid: number): { pid: number; argv: string[] }[] {
  const ids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return ids.map((id) => ({ pid: id, argv: readFileSync(`/proc/${id}/cmdline`, 'utf8').split('\0').filter(Boolean) }));
}

async function startServe(env: Record<string, string>): Promise<{ proc: ReturnType<typeof spawn>; stderr: () => string }> {
  const dir = tmpDir();
  const lake = path.join(dir, 'p.parquet');
  writePlayers(lake, [{ id: 'a', ltv: 1, level: 1n, country: 'SE', is_payer: true, last_login: null, tags: [] }]);
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, stringify({ datasets: [featuresDataset('lp', lake)] }));
  const ports = { MALT_HTTP_PORT: String(await freePort()), MALT_GRPC_PORT: String(await freePort()) };
  const procEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', REDIS_URL: redisUrl(), MALT_KEY_PREFIX: uniquePrefix(), ...ports, ...env };
  if (env['MALT_NODE_FLAGS'] === undefined) delete procEnv['MALT_NODE_FLAGS'];
  const proc = spawn(process.execPath, [MALT_BIN, 'serve', '-c', file], { env: procEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(proc);
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    proc.stderr!.on('data', (d) => {
      stderr += d;
      if (stderr.includes('gRPC on')) { clearTimeout(timer); resolve(); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${stderr}`)); });
  });
  // The log line can come before the signal handlers are in place (the logger may write from
  // another thread); the first HTTP answer comes after (serve installs them in the same tick).
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${ports.MALT_HTTP_PORT}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 100) throw new Error(`no /healthz answer: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, stderr: () => stderr };
}

async function stop(proc: ReturnType<typeof spawn>, signal: NodeJS.Signals): Promise<number | string | null> {
  const exited = new Promise<number | string | null>((r) => proc.once('exit', (code, sig) => r(code ?? sig)));
  proc.kill(signal);
  return exited;
}

describe('bin/malt.js serve', () => {
  it('re-runs node with MALT_NODE_FLAGS; SIGTERM to the launcher shuts the server down once and exits 0', async () => {
    const { proc, stderr } = await startServe({ MALT_NODE_FLAGS: SEMI });
    const kids = childProcesses(proc.pid!);
    expect(kids).toHaveLength(1);
    expect(kids[0]!.argv).toContain(SEMI);
    expect(kids[0]!.argv).toContain(MALT_BIN);
    expect(await stop(proc, 'SIGTERM'), stderr()).toBe(0);
    // Relayed once: a second signal would have made the CLI exit 130 at once.
    expect(stderr().match(/SIGTERM: shutting down/g)).toHaveLength(1);
    expect(() => readFileSync(`/proc/${kids[0]!.pid}/cmdline`)).toThrow();
  });

  it('when the launcher is SIGKILLed, the server it ran shuts down instead of living on orphaned', async () => {
    const { proc } = await startServe({ MALT_NODE_FLAGS: SEMI });
    const kids = childProcesses(proc.pid!);
    expect(kids).toHaveLength(1);
    expect(await stop(proc, 'SIGKILL')).toBe('SIGKILL');
    const alive = (): boolean => {
      try { return !readFileSync(`/proc/${kids[0]!.pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'); } catch { return false; }
    };
    const deadline = Date.now() + 10_000;
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(), 'the re-run server outlived its launcher').toBe(false);
  });

  it('without flags to add it serves in the launcher process itself', async () => {
    const { proc, stderr } = await startServe({});
    expect(childProcesses(proc.pid!).filter((c) => c.argv.includes(MALT_BIN))).toEqual([]);
    expect(readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8')).not.toContain('semi-space');
    expect(await stop(proc, 'SIGTERM'), stderr()).toBe(0);
  });
});
