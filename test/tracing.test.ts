/**
 * Traces: with telemetry.otlp_endpoint set, a serving app exports request → lookup → Redis spans
 * over OTLP/HTTP to a receiver this test runs on 127.0.0.1, and flushes them on close().
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type ProxyTracerProvider, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, servingClient } from '../src/serving/grpc-client.js';
import { tracing } from '../src/telemetry/tracing.js';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { featuresDataset, load, makeConfig, redisUrl, serve, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { runMalt } from './support/cli-runner.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

const received: { path: string; contentType: string; body: { resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[] } }[] = [];
let receiver: Server;
let endpoint = '';

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => receiver.close(r));
});

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : Object.values(v)[0];
};

describe('tracing', () => {
  it('is off without an endpoint: no tracer provider is registered and spans do not record', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'p.parquet');
    writePlayers(lake, [{ id: 'a', ltv: 1, level: 1, country: 'DE', is_payer: true, last_login: null, tags: null }]);
    const config = makeConfig({ datasets: [featuresDataset('tr_off', lake)] });
    await load(config, 'tr_off');
    const app = await serve(config);
    try {
      expect(tracing.on).toBe(false);
      expect((trace.getTracerProvider() as ProxyTracerProvider).getDelegate().constructor.name).toBe('NoopTracerProvider');
      expect(trace.getTracer('x').startSpan('probe').isRecording()).toBe(false);
      expect((await fetch(`http://127.0.0.1:${app.httpPort}/v1/entities/a`)).status).toBe(200);
    } finally {
      await app.close();
    }
    expect(received).toEqual([]);
  });

  it('exports request → lookup → Redis spans over OTLP/HTTP when an endpoint is configured, flushed on close', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'p.parquet');
    writePlayers(lake, [{ id: 'a', ltv: 1, level: 1, country: 'DE', is_payer: true, last_login: null, tags: null }]);
    const config = makeConfig({ datasets: [featuresDataset('tr_pf', lake)], telemetry: { otlp_endpoint: endpoint, service_name: 'malt-test' } });
    await load(config, 'tr_pf');
    const app = await serve(config);
    expect(tracing.on).toBe(true);
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/v1/entities/a?datasets=tr_pf`, { headers: { 'x-request-id': 'req-42' } });
    expect(res.status).toBe(200);
    const client = servingClient(`127.0.0.1:${app.grpcPort}`);
    await call(client, 'Get', { entity_id: 'a', datasets: ['tr_pf'] });
    client.close();
    await app.close();
    expect(tracing.on).toBe(false);

    expect(received.length).toBeGreaterThan(0);
    expect(received[0]!.path).toBe('/v1/traces');
    expect(received[0]!.contentType).toMatch(/application\/json/);
    const resources = received.flatMap((r) => r.body.resourceSpans);
    expect(resources[0]!.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'malt-test' } });
    const spans = resources.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const request = spans.find((s) => s.name === 'GET /v1/entities/:id');
    expect(request, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(attr(request!, 'http.response.status_code')).toBe(200);
    expect(attr(request!, 'malt.request_id')).toBe('req-42');
    const lookups = spans.filter((s) => s.name === 'malt.lookup');
    const lookup = lookups.find((s) => s.parentSpanId === request!.spanId);
    expect(lookup).toBeDefined();
    expect(lookup!.traceId).toBe(request!.traceId);
    expect(attr(lookup!, 'malt.cache.misses')).toBe(1);
    const redis = spans.find((s) => s.name === 'redis.read' && s.parentSpanId === lookup!.spanId);
    expect(redis).toBeDefined();
    expect(attr(redis!, 'db.system')).toBe('redis');
    // gRPC: a server span whose lookup was a cache hit (no Redis span under it).
    const rpc = spans.find((s) => s.name === 'malt.v1.Serving/Get');
    expect(rpc).toBeDefined();
    expect(attr(rpc!, 'rpc.grpc.status_code')).toBe(0);
    const rpcLookup = lookups.find((s) => s.parentSpanId === rpc!.spanId);
    expect(rpcLookup).toBeDefined();
    expect(attr(rpcLookup!, 'malt.cache.hits')).toBe(1);
    expect(spans.some((s) => s.name === 'redis.read' && s.parentSpanId === rpcLookup!.spanId)).toBe(false);
  });

  it('malt load exports a malt.load span with its phases as children (OTEL_EXPORTER_OTLP_ENDPOINT)', async () => {
    received.length = 0;
    const dir = tmpDir();
    const lake = path.join(dir, 'p.parquet');
    writePlayers(lake, [{ id: 'a', ltv: 1, level: 1, country: 'DE', is_payer: true, last_login: null, tags: null }]);
    const file = path.join(dir, 'malt.yaml');
    writeFileSync(file, stringify({ datasets: [featuresDataset('tr_load', lake)] }));
    const r = await runMalt(['load', '-c', file], { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: uniquePrefix(), OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    expect(r.code, r.stderr).toBe(0);
    const spans = received.flatMap((x) => x.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)));
    const root = spans.find((s) => s.name === 'malt.load');
    expect(root, spans.map((s) => s.name).join(', ')).toBeDefined();
    expect(attr(root!, 'malt.dataset')).toBe('tr_load');
    for (const phase of ['load.resolve_source', 'load.write_rows', 'load.publish']) {
      const s = spans.find((x) => x.name === phase);
      expect(s, phase).toBeDefined();
      expect(s!.parentSpanId, phase).toBe(root!.spanId);
      expect(s!.traceId).toBe(root!.traceId);
    }
    expect(attr(spans.find((x) => x.name === 'load.publish')!, 'malt.version')).toBe(1);
  });
});
