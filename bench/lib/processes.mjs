/**
 * Child processes for the bench: spawn (pinned to a core with taskset when it can), remember
 * every PID, stop them by PID at the end (also on error and SIGINT), and read CPU time from
 * /proc so every run can say which process was the bottleneck.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

const children = new Set();

/** Cores: servers on SERVER_CORE, load generators and redis-server on CLIENT_CORE. */
export const SERVER_CORE = 0;
export const CLIENT_CORE = 1;

let tasksetChecked = null;
export function pinningAvailable() {
  if (tasksetChecked === null) {
    const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    tasksetChecked = r.status === 0 && os.availableParallelism() >= 2;
  }
  return tasksetChecked;
}

export function commandExists(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Spawns `cmd args` pinned to `core` (taskset -c, which execs, so the PID is the program's own).
 * `ipc: true` opens a Node IPC channel (the program must be node).
 */
export function spawnPinned(cmd, args, { core, ipc = false, env, cwd, stdio } = {}) {
  const pinned = core !== undefined && pinningAvailable();
  const file = pinned ? 'taskset' : cmd;
  const argv = pinned ? ['-c', String(core), cmd, ...args] : args;
  const io = stdio ?? ['ignore', 'pipe', 'pipe'];
  const child = spawn(file, argv, { stdio: ipc ? [...io.slice(0, 3), 'ipc'] : io, env: env ?? process.env, cwd });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.pinnedCore = pinned ? core : null;
  return child;
}

/** Stops one child by PID: SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(child, graceMs = 3000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(timer); resolve(); }
  });
}

/** Stops every child still running, each by its PID. */
export async function stopAll() {
  await Promise.all([...children].map((c) => stopChild(c)));
}

let cleanupInstalled = false;
/** On SIGINT/SIGTERM/uncaught errors: run `onStop` (which should call stopAll) then exit. */
export function installCleanup(onStop) {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const bail = (code) => {
    Promise.resolve(onStop()).finally(() => process.exit(code));
  };
  process.once('SIGINT', () => { console.error('\ninterrupted: stopping everything the bench started'); bail(130); });
  process.once('SIGTERM', () => bail(143));
}

/**
 * Runs a child to completion, collecting stdout/stderr; kills it by PID after `timeoutMs`.
 * `onLine(line, child)` sees each stdout line as it arrives.
 */
export function runToEnd(cmd, args, { core, timeoutMs, env, cwd, onLine } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(cmd, args, { core, env, cwd });
    let stdout = '';
    let stderr = '';
    // The child's CPU time, read every 100 ms while it runs (its /proc entry is gone after exit).
    let cpu = null;
    const poll = setInterval(() => { cpu = cpuSeconds(child.pid) ?? cpu; }, 100);
    let partial = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!onLine) return;
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      for (const line of lines) onLine(line, child);
    });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = timeoutMs ? setTimeout(() => {
      stderr += `\n[bench] ${cmd} exceeded ${timeoutMs} ms; killed`;
      void stopChild(child, 500);
    }, timeoutMs) : null;
    child.once('error', (err) => { if (timer) clearTimeout(timer); clearInterval(poll); reject(err); });
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      clearInterval(poll);
      resolve({ code, signal, stdout, stderr, pid: child.pid, cpuSeconds: cpu });
    });
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux we run on

/** CPU seconds (user + system, all threads) used so far by `pid`, or null if unreadable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/**
 * Samples CPU use over an interval: per named PID (fraction of one core) and the CPU used by
 * everything else on the machine (other users of the box inflate latency; we report it).
 */
export function cpuMeter(pids) {
  const t0 = performance.now();
  const start = Object.fromEntries(Object.entries(pids).filter(([, pid]) => pid).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const self0 = process.cpuUsage();
  const busy0 = machineBusySeconds();
  return {
    /** Call with extra PIDs whose whole lifetime fell inside the interval (e.g. a finished generator). */
    stop(extraSeconds = {}) {
      const wall = (performance.now() - t0) / 1000;
      const out = {};
      let ours = 0;
      for (const [k, pid] of Object.entries(pids)) {
        if (!pid || start[k] === null || start[k] === undefined) continue;
        const now = cpuSeconds(pid);
        if (now === null) continue;
        out[k] = round((now - start[k]) / wall, 3);
        ours += now - start[k];
      }
      for (const [k, secs] of Object.entries(extraSeconds)) {
        if (secs === null || secs === undefined) continue;
        out[k] = round(secs / wall, 3);
        ours += secs;
      }
      const self = process.cpuUsage(self0);
      ours += (self.user + self.system) / 1e6;
      const busy1 = machineBusySeconds();
      if (busy0 !== null && busy1 !== null) out.foreign = round(Math.max(0, busy1 - busy0 - ours) / wall, 3);
      return out;
    },
  };
}

export function round(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU (fraction of one core) used by processes other than `ourPids` over `ms`: the bench shares
 * the box with whatever else runs there.
 */
export async function foreignLoad(ourPids, ms = 300) {
  const before = ourPids.map((p) => cpuSeconds(p) ?? 0);
  const self0 = process.cpuUsage();
  const busy0 = machineBusySeconds();
  await sleep(ms);
  const busy1 = machineBusySeconds();
  const ours = ourPids.reduce((n, p, i) => n + ((cpuSeconds(p) ?? before[i]) - before[i]), 0);
  const self = process.cpuUsage(self0);
  return Math.max(0, busy1 - busy0 - ours - (self.user + self.system) / 1e6) / (ms / 1000);
}
