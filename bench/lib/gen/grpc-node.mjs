/**
 * A gRPC load generator on node:http2 that sends pre-encoded request frames (no protobuf work
 * per call) and checks each call's grpc-status. Used by --quick (and when h2load is missing):
 * closed-loop saturation (`connections` HTTP/2 sessions × `streams` calls in flight each), or an
 * open-loop fixed rate (HTTP/2 multiplexes, so a call never waits for a free connection here).
 *
 * argv[2]: spec file {host, port, path, bodies: [base64 gRPC frame], mode: saturation|rate,
 * rate?, connections, streams, durationS, warmupS}. Prints one JSON result line.
 */
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { LatencyRecorder } from '../latency.mjs';
import { drain, paceOpenLoop } from './open-loop.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const bodies = spec.bodies.map((b) => Buffer.from(b, 'base64'));
const headers = { ':method': 'POST', ':path': spec.path, 'content-type': 'application/grpc', te: 'trailers' };
const recorder = new LatencyRecorder();
const counts = { measured: 0, errors: 0, grpcErrors: 0, bytes: 0, inflight: 0 };
let firstError = null;
/** Calls in flight per session are capped (peers limit concurrent streams); the rest wait here. */
const MAX_STREAMS_PER_SESSION = 100;
const waiting = [];
let nextBody = 0;
let measureFrom = Infinity;
let measureUntil = Infinity;
let stopping = false;

const sessions = await Promise.all(Array.from({ length: spec.connections }, () => new Promise((resolve, reject) => {
  const s = http2.connect(`http://${spec.host}:${spec.port}`);
  s.once('connect', () => resolve(s));
  s.once('error', reject);
})));
let nextSession = 0;

/** One call; resolves when it ends. `scheduled` is when it should have started. */
function call(session, scheduled) {
  return new Promise((resolve) => {
    counts.inflight++;
    session.inflight = (session.inflight ?? 0) + 1;
    let bytes = 0;
    let grpcStatus = null;
    const stream = session.request(headers);
    stream.on('response', (h) => { if (h['grpc-status'] !== undefined) grpcStatus = h['grpc-status']; });
    stream.on('trailers', (t) => { grpcStatus = t['grpc-status']; });
    stream.on('data', (d) => { bytes += d.length; });
    stream.on('error', (err) => { firstError ??= err.message; });
    stream.on('close', () => {
      counts.inflight--;
      session.inflight--;
      const next = waiting.shift();
      if (next !== undefined) void call(session, next);
      if (scheduled >= measureFrom && scheduled < measureUntil) {
        if (stream.rstCode || grpcStatus === null) {
          counts.errors++;
          firstError ??= `stream closed with rstCode ${stream.rstCode}, grpc-status ${grpcStatus}`;
        }
        else if (grpcStatus !== '0') counts.grpcErrors++;
        else {
          recorder.record(performance.now() - scheduled);
          counts.measured++;
          counts.bytes += bytes;
        }
      }
      resolve();
    });
    stream.end(bodies[nextBody++ % bodies.length]);
  });
}

async function closedLoop(session) {
  while (!stopping) await call(session, performance.now());
}

const start = performance.now() + 5;
measureFrom = start + spec.warmupS * 1000;
measureUntil = measureFrom + spec.durationS * 1000;
// The runner samples CPU between these two lines.
setTimeout(() => process.stdout.write('BENCH-MEASURE-START\n'), measureFrom - performance.now());
setTimeout(() => process.stdout.write('BENCH-MEASURE-END\n'), measureUntil - performance.now());
if (spec.mode === 'saturation') {
  const loops = [];
  for (const s of sessions) for (let i = 0; i < spec.streams; i++) loops.push(closedLoop(s));
  setTimeout(() => { stopping = true; }, measureUntil - performance.now());
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, measureUntil - performance.now() + 3000))]);
} else {
  await paceOpenLoop({
    start, rate: spec.rate, until: measureUntil,
    issue: (now) => {
      // Timed from the 1 ms tick it became due at, including any wait for a stream slot.
      const session = sessions[nextSession++ % sessions.length];
      if ((session.inflight ?? 0) < MAX_STREAMS_PER_SESSION) void call(session, now);
      else waiting.push(now);
    },
  });
  await drain(() => counts.inflight > 0 || waiting.length > 0);
}
const lost = counts.inflight + waiting.length;
for (const s of sessions) s.destroy();
process.stdout.write(`${JSON.stringify({
  tool: 'node-http2-grpc', mode: spec.mode, offeredRate: spec.rate ?? null, connections: spec.connections, streams: spec.streams,
  durationS: spec.durationS, requests: counts.measured, achievedRps: counts.measured / spec.durationS,
  errors: counts.errors + counts.grpcErrors, grpcErrors: counts.grpcErrors, timeouts: lost, non2xx: 0,
  bytesPerResponse: counts.measured ? counts.bytes / counts.measured : null,
  latencyMs: recorder.summary(), ...(firstError ? { firstError } : {}),
})}\n`);
process.exit(0);
