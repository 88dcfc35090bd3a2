#!/usr/bin/env node
// The launcher. The CLI is compiled from src/ by `npm run build` (run automatically by `npm ci`
// via "prepare"). MALT_NODE_FLAGS (e.g. `--max-semi-space-size=32`) are node/V8 flags for any
// command (src/cli/launch-flags.ts; flags already given to node or in NODE_OPTIONS win). V8
// reads them only at start-up, so when there are any to add the launcher runs node again with
// them and relays signals and the exit status; otherwise the CLI runs in this process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

function notBuilt(err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    console.error('malt is not built yet: run `npm run build` (npm ci does this automatically).');
    process.exit(1);
  }
  throw err;
}

const { LAUNCHED_ENV, launchFlags } = await import('../dist/cli/launch-flags.js').catch(notBuilt);
const args = process.argv.slice(2);
const flags = launchFlags({ args, env: process.env, execArgv: process.execArgv });

if (flags.length === 0) {
  if (process.env[LAUNCHED_ENV] === '1') {
    // Run by the launcher: should the launcher die without relaying a signal (SIGKILL, the OOM
    // killer), this process is re-parented; it then shuts down as on SIGTERM instead of living on
    // orphaned in its own process group.
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(watch);
      process.kill(process.pid, 'SIGTERM');
    }, 500);
    watch.unref();
  }
  await import('../dist/cli.js').catch(notBuilt);
} else {
  // Its own process group: a terminal's Ctrl-C reaches the launcher only, which relays it once
  // (the CLI treats a second signal as "exit now").
  const child = spawn(process.execPath, [...flags, ...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    stdio: 'inherit', detached: true, env: { ...process.env, [LAUNCHED_ENV]: '1' },
  });
  const relay = (signal) => () => {
    try { process.kill(child.pid, signal); } catch { /* already gone */ }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2']) process.on(signal, relay(signal));
  child.once('error', (err) => {
    console.error(`malt: could not start node with ${flags.join(' ')}: ${err.message}`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}
