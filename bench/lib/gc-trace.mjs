/**
 * Reads node's --trace-gc-nvp output (one line per GC: `pause=… gc=s|mc|… allocated=<bytes since
 * the previous GC> new_space_survived=…`) into totals. Bytes allocated and scavenges per call
 * are properties of the code, not of how much CPU the box left the server, so they compare
 * before/after on a shared machine where latency cannot.
 */
export function parseGcTrace(text) {
  const t = { gcs: 0, scavenges: 0, majors: 0, allocatedBytes: 0, pauseMs: 0, pauseMaxMs: 0, scavengePauseMaxMs: 0, survivedBytes: 0 };
  for (const line of text.split('\n')) {
    const kind = / gc=(\w+)/.exec(line)?.[1];
    if (!kind) continue;
    const num = (k) => Number(new RegExp(` ${k}=([0-9.]+)`).exec(line)?.[1] ?? 0);
    const pause = num('pause');
    t.gcs++;
    t.allocatedBytes += num('allocated');
    t.pauseMs += pause;
    t.pauseMaxMs = Math.max(t.pauseMaxMs, pause);
    if (kind === 's') {
      t.scavenges++;
      t.scavengePauseMaxMs = Math.max(t.scavengePauseMaxMs, pause);
      t.survivedBytes += num('new_space_survived');
    } else if (kind !== 'mmc' && kind !== 'ms') t.majors++;
  }
  return t;
}

/** Per-call figures over `calls` answered calls. */
export function perCall(t, calls) {
  const n = Math.max(1, calls);
  const r1 = (x) => Math.round(x * 10) / 10;
  return {
    ...t, pauseMs: r1(t.pauseMs),
    allocBytesPerCall: Math.round(t.allocatedBytes / n),
    scavengesPerKCall: r1((t.scavenges / n) * 1000),
    gcPauseUsPerCall: r1((t.pauseMs / n) * 1000),
    survivedBytesPerScavenge: t.scavenges ? Math.round(t.survivedBytes / t.scavenges) : 0,
  };
}
