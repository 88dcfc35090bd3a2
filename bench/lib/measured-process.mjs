/**
 * Runs one command to completion as a measured process: wall time, CPU seconds (user + system,
 * all threads) and peak RSS, plus the CPU the rest of the machine used meanwhile (the box is
 * shared). Peak RSS is the kernel's high-water mark, VmHWM in /proc/<pid>/status, polled every
 * 20 ms until the process exits (VmHWM only grows, so the last reading is the peak up to the
 * last 20 ms); CPU from /proc/<pid>/stat the same way. The process is pinned to `core` and
 * stopped by PID after `timeoutMs`.
 */
import { readFileSync } from 'node:fs';
import { cpuMeter, cpuSeconds, round, spawnPinned, stopChild } from './processes.mjs';

function peakRssKiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Returns {code, signal, stdout, stderr, wallSeconds, cpuSeconds, peakRssMiB, cpu: {redis?,
 * foreign}} ; `watch` names other PIDs (e.g. redis-server) whose CPU share to report.
 * `stdin` may be a file descriptor to read from.
 */
export function runMeasured(cmd, args, { core, env, cwd, timeoutMs = 120_000, watch = {}, stdin } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawnPinned(cmd, args, { core, env, cwd, stdio: [stdin ?? 'ignore', 'pipe', 'pipe'] });
    const meter = cpuMeter(watch);
    let stdout = '';
    let stderr = '';
    let peak = null;
    let cpu = null;
    const sample = () => {
      peak = peakRssKiB(child.pid) ?? peak;
      cpu = cpuSeconds(child.pid) ?? cpu;
    };
    // Short-lived children (redis-cli --pipe of a small table lives a few ms): sample at spawn and
    // every 5 ms for the first half second, then every 20 ms.
    child.once('spawn', sample);
    let poll = setInterval(sample, 5);
    const slower = setTimeout(() => { clearInterval(poll); poll = setInterval(sample, 20); }, 500);
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      stderr += `\n[bench] ${cmd} exceeded ${timeoutMs} ms; killed`;
      void stopChild(child, 500);
    }, timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); clearTimeout(slower); clearInterval(poll); reject(err); });
    child.once('exit', (code, signal) => {
      const wallSeconds = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      clearTimeout(slower);
      clearInterval(poll);
      const others = meter.stop({ self: cpu });
      delete others.self;
      resolve({
        code, signal, stdout, stderr, pid: child.pid, wallSeconds: round(wallSeconds, 3), cpuSeconds: cpu,
        peakRssMiB: peak === null ? null : round(peak / 1024, 1), cpu: others,
      });
    });
  });
}
