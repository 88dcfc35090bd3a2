/**
 * Open-loop HTTP/1.1 load at a fixed offered rate, for latency at 1k/5k/10k req/s.
 *
 * Why not autocannon's overallRate: it lets each connection send back-to-back until its
 * per-second quota is used up, then pauses until the next second, so "10k req/s" is a burst at
 * full speed followed by silence, and a request that waits for a busy connection is timed from
 * when it finally went out (coordinated omission). wrk2, which does this properly, is not packaged
 * for Debian. This generator issues requests on a schedule (rate/1000 every 1 ms tick), sends each
 * on a free keep-alive connection or queues it when all are busy, and times it from the tick at
 * which it was due and ready to go: time spent waiting for a connection (the server falling
 * behind) counts, the generator's own timer granularity (up to ~1 ms) does not.
 *
 * argv[2]: spec file {host, port, requests: [{method, path, body?}], rate, durationS, warmupS,
 * connections}. Prints one JSON result line.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { LatencyRecorder } from '../latency.mjs';
import { drain, paceOpenLoop } from './open-loop.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const hostHeader = `${spec.host}:${spec.port}`;
const wire = spec.requests.map((r) => {
  if (r.body === undefined) return Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\nHost: ${hostHeader}\r\n\r\n`);
  const body = Buffer.from(r.body);
  return Buffer.concat([Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\nHost: ${hostHeader}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
});
let nextRequest = Math.floor(Math.random() * wire.length);

const CRLFCRLF = Buffer.from('\r\n\r\n');
const recorder = new LatencyRecorder();
const counts = { sent: 0, completed: 0, measured: 0, non2xx: 0, errors: 0, bytes: 0 };
const queue = [];
const idle = [];
let measureFrom = 0;
let measureUntil = Infinity;

function connect() {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: spec.host, port: spec.port, noDelay: true });
    const conn = { sock, buf: Buffer.alloc(0), scheduled: 0, need: -1, status: 0 };
    sock.once('connect', () => resolve(conn));
    sock.once('error', reject);
    sock.on('data', (chunk) => onData(conn, chunk));
    sock.on('close', () => { if (conn.scheduled) counts.errors++; });
  });
}

/** Parses one response (Content-Length framing; every server in the bench sends it). */
function onData(conn, chunk) {
  conn.buf = conn.buf.length ? Buffer.concat([conn.buf, chunk]) : chunk;
  for (;;) {
    if (conn.need < 0) {
      const end = conn.buf.indexOf(CRLFCRLF);
      if (end < 0) return;
      const head = conn.buf.toString('latin1', 0, end);
      conn.status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!m) throw new Error(`response without content-length: ${head.slice(0, 200)}`);
      conn.need = end + 4 + Number(m[1]);
    }
    if (conn.buf.length < conn.need) return;
    const size = conn.need;
    conn.buf = conn.buf.subarray(size);
    conn.need = -1;
    complete(conn, size);
  }
}

function complete(conn, size) {
  const scheduled = conn.scheduled;
  conn.scheduled = 0;
  counts.completed++;
  if (scheduled >= measureFrom && scheduled < measureUntil) {
    if (conn.status >= 200 && conn.status < 300) {
      recorder.record(performance.now() - scheduled);
      counts.bytes += size;
      counts.measured++;
    } else counts.non2xx++;
  }
  const waiting = queue.shift();
  if (waiting !== undefined) send(conn, waiting);
  else idle.push(conn);
}

function send(conn, scheduled) {
  conn.scheduled = scheduled;
  counts.sent++;
  conn.sock.write(wire[nextRequest++ % wire.length]);
}

const conns = await Promise.all(Array.from({ length: spec.connections }, connect));
idle.push(...conns);

const start = performance.now() + 5;
measureFrom = start + spec.warmupS * 1000;
measureUntil = measureFrom + spec.durationS * 1000;
// The runner samples CPU between these two lines.
setTimeout(() => process.stdout.write('BENCH-MEASURE-START\n'), measureFrom - performance.now());
setTimeout(() => process.stdout.write('BENCH-MEASURE-END\n'), measureUntil - performance.now());
await paceOpenLoop({
  start, rate: spec.rate, until: measureUntil,
  issue: (now) => {
    // Timed from now (the tick it became due at), not from its exact slot within the tick.
    const conn = idle.pop();
    if (conn) send(conn, now);
    else queue.push(now);
  },
});
// Let the last requests finish (bounded), then count what never came back.
await drain(() => queue.length > 0 || idle.length < conns.length);
const lost = queue.length + (conns.length - idle.length);
for (const c of conns) c.sock.destroy();
const latency = recorder.summary();
process.stdout.write(`${JSON.stringify({
  tool: 'open-loop-http', mode: 'rate', offeredRate: spec.rate, connections: spec.connections, durationS: spec.durationS,
  requests: counts.measured, achievedRps: counts.measured / spec.durationS, errors: counts.errors, timeouts: lost,
  non2xx: counts.non2xx, bytesPerResponse: counts.measured ? counts.bytes / counts.measured : null,
  latencyMs: latency,
})}\n`);
process.exit(0);
