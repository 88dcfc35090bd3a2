/**
 * Closed-loop HTTP saturation with autocannon, run as its own (pinned) process so it never shares
 * the server's process. Every response time is recorded from autocannon's 'response' event at
 * full resolution (autocannon's own histogram has 1 ms resolution, too coarse for a 1 ms target).
 * argv[2]: spec file {url, requests: [{method, path, body?}], connections, durationS, warmupS,
 * amount?}. With `amount` (--quick) it sends that many requests instead of running for a duration
 * (autocannon's run length has whole-second granularity).
 * Prints one JSON result line.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { LatencyRecorder } from '../latency.mjs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const list = spec.requests;
let next = Math.floor(Math.random() * list.length);
const headers = { 'content-type': 'application/json' };

function setupRequest(req) {
  const r = list[next++ % list.length];
  req.method = r.method;
  req.path = r.path;
  if (r.body !== undefined) {
    req.body = r.body;
    req.headers = headers;
  } else {
    delete req.body;
  }
  return req;
}

function run(durationS, recorder) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: spec.url, connections: spec.connections, ...(spec.amount ? { amount: spec.amount } : { duration: durationS }), pipelining: 1,
      requests: [{ setupRequest }], timeout: 10,
      // autocannon ends a run on its sampling tick (1 s by default); --quick runs are shorter.
      sampleInt: spec.amount ? 20 : 1000,
    }, (err, res) => (err ? reject(err) : resolve(res)));
    let responses = 0;
    instance.on('response', (_client, status, _bytes, ms) => {
      if (recorder && status < 300) recorder.record(ms);
      if (spec.amount && ++responses === spec.amount) instance.stop();
    });
  });
}

if (spec.warmupS > 0 && !spec.amount) await run(spec.warmupS, null);
const recorder = new LatencyRecorder();
process.stdout.write('BENCH-MEASURE-START\n');
const t0 = performance.now();
const res = await run(spec.durationS, recorder);
const wallS = (performance.now() - t0) / 1000;
process.stdout.write('BENCH-MEASURE-END\n');
process.stdout.write(`${JSON.stringify({
  tool: 'autocannon', mode: 'saturation', connections: spec.connections, durationS: Math.round(wallS * 1000) / 1000,
  requests: res['2xx'], achievedRps: res['2xx'] / wallS, errors: res.errors, timeouts: res.timeouts,
  non2xx: res.non2xx, bytesPerResponse: res['2xx'] ? res.throughput.total / res['2xx'] : null,
  latencyMs: recorder.summary(),
})}\n`);
