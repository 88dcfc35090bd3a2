/**
 * gRPC workloads. Each sends one pre-encoded request (h2load can send only one body): Get for the
 * hottest player of the Zipf list (a cache hit), and BatchGet for one fixed batch of 10 or 100
 * Zipf players. Baselines: bare grpc-js answering with the same response message as an object
 * (serialised per call; the baseline, in the rate sweep too) and with malt's pre-encoded
 * response bytes (grpc-js transport alone; saturation only).
 */
import { grpcRun } from '../lib/generators.mjs';
import { batchGetFrame, getFrame, rawCall } from '../lib/grpc-wire.mjs';

async function compare(malt, base, method, frame) {
  const [a, b] = await Promise.all([rawCall(malt.grpcPort, method, frame), rawCall(base.grpcPort, method, frame)]);
  if (a.grpcStatus !== '0') throw new Error(`malt ${method} failed: grpc-status ${a.grpcStatus}`);
  return { grpcStatus: a.grpcStatus, responseBytes: a.body.length, sameBytesAsBaseline: a.body.equals(b.body), baselineBytes: b.body.length };
}

async function grpcSweep(ctx, { variant, method, frame, rates }) {
  const malt = await ctx.maltHit();
  const [base, bytes] = await Promise.all([ctx.grpcJs(), ctx.grpcJsBytes()]);
  const checks = { request: variant, ...(await compare(malt, base, method, frame)), preEncodedSameBytes: (await compare(malt, bytes, method, frame)).sameBytesAsBaseline, generator: ctx.tools.h2load ? 'h2load' : 'node-http2-grpc' };
  const runs = [];
  const tag = (run) => ({ transport: 'grpc', variant, ...run });
  for (const s of [malt, base, bytes]) {
    ctx.log(`    grpc ${variant} ${s.label}: saturation`);
    runs.push(tag(await grpcRun(ctx, s, method, [frame], { mode: 'saturation' })));
  }
  for (const rate of rates) {
    for (const s of ctx.opts.rateOnlyMalt ? [malt] : [malt, base]) {
      ctx.log(`    grpc ${variant} ${s.label}: ${rate} req/s offered`);
      runs.push(tag(await grpcRun(ctx, s, method, [frame], { mode: 'rate', rate })));
    }
  }
  return { runs, checks };
}

export async function grpcHit(ctx) {
  return grpcSweep(ctx, { variant: 'single', method: 'Get', frame: getFrame(ctx.hotId()), rates: ctx.opts.rates.grpcSingle });
}

export async function grpcBatch(ctx) {
  const runs = [];
  const checks = {};
  for (const size of ctx.opts.batchSizes) {
    const r = await grpcSweep(ctx, { variant: `batch${size}`, method: 'BatchGet', frame: batchGetFrame(ctx.batches(size)[0]), rates: ctx.opts.rates[`batch${size}`] });
    runs.push(...r.runs);
    checks[`batch${size}`] = r.checks;
  }
  return { runs, checks };
}
