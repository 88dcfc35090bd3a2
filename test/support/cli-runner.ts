/** Runs the built CLI (bin/malt.js → dist/) as a child process and collects its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MALT_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/malt.js');

export interface Run { code: number | null; stdout: string; stderr: string }

/** `malt <args>` with `env` over this process's environment; resolves when it exits. */
export function runMalt(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MALT_BIN, ...args], { env: { ...process.env, ...env }, cwd });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Child processes a test file starts (e.g. `malt serve`); each still running gets SIGTERM, and is awaited, after the file's tests. */
export function childrenStoppedAfterAll(): ChildProcess[] {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
  });
  return children;
}
