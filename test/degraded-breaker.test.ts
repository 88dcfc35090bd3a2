/**
 * The circuit breaker's states and its rate-limited log (src/serving/circuit-breaker.ts), and the
 * degraded marker's wire forms (src/serving/degraded-results.ts): the JSON key and the appended
 * protobuf field decode as the proto says, checked against the generic proto-loader encoding.
 */
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, logBreakerChanges } from '../src/serving/circuit-breaker.js';
import { DatasetResult, type Feature } from '../src/serving/dataset-result.js';
import { markDegraded } from '../src/serving/degraded-results.js';
import { loadServingPackage } from '../src/serving/grpc-server.js';
import { encodeEntityResult } from '../src/serving/proto-encoding.js';
import { referenceProto } from './support/proto-reference.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

describe('circuit breaker', () => {
  it('opens after N consecutive failures, refuses reads while open, lets one probe through after open_ms', () => {
    const c = clock();
    const b = new CircuitBreaker({ failures: 3, openMs: 500, now: c.now });
    b.failure('t');
    b.failure('t');
    b.success(); // a success resets the count
    b.failure('t');
    b.failure('t');
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
    b.failure('t');
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    c.advance(499);
    expect(b.allow()).toBe(false);
    c.advance(1);
    expect(b.allow()).toBe(true); // the probe
    expect(b.state).toBe('half-open');
    expect(b.allow()).toBe(false); // everyone else while it is out
    b.failure('probe timed out');
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    c.advance(500);
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.closed).toBe(true);
    expect(b.allow()).toBe(true);
  });

  it('trip() opens at once; failures of reads begun earlier do not extend an open breaker', () => {
    const c = clock();
    const b = new CircuitBreaker({ failures: 100, openMs: 500, now: c.now });
    b.trip('connection closed');
    expect(b.state).toBe('open');
    c.advance(400);
    b.failure('late timeout');
    c.advance(100);
    expect(b.allow()).toBe(true);
  });

  it('logs an opening and the closing once, not every failed probe, and at most one opening per interval', () => {
    const c = clock();
    const lines: string[] = [];
    const logger = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const b = new CircuitBreaker({ failures: 1, openMs: 100, now: c.now });
    logBreakerChanges(b, logger, 30_000, c.now);
    b.failure('ECONNREFUSED');
    for (let i = 0; i < 50; i++) {
      c.advance(100);
      expect(b.allow()).toBe(true);
      b.failure('ECONNREFUSED');
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn redis circuit breaker open: 1 consecutive Redis reads failed or timed out \(last: ECONNREFUSED\)/);
    c.advance(100);
    b.allow();
    b.success();
    expect(lines[1]).toBe('info redis circuit breaker closed: Redis answered');
    // Flapping soon after: openings within 30 s are not logged (nor their closings), then counted.
    for (let i = 0; i < 5; i++) {
      b.failure('x');
      c.advance(100);
      b.allow();
      b.success();
    }
    expect(lines).toHaveLength(2);
    c.advance(30_000);
    b.failure('y');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/\(5 more openings not logged\)$/);
  });
});

describe('the degraded marker on the wire', () => {
  interface MethodDef { responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
  const get = (loadServingPackage()['malt.v1.Serving'] as unknown as Record<string, MethodDef>)['Get']!;
  const features: Feature[] = [
    { name: 'ltv', type: 'double', value: 2.5, status: 'PRESENT' },
    { name: 'country', type: 'string', value: 'ZZ', status: 'DEFAULTED' },
    { name: 'level', type: 'int64', value: null, status: 'UNAVAILABLE' },
    { name: 'old', type: 'string', value: 'x', status: 'STALE' },
  ];

  it('protobuf: the appended field 5 decodes as DatasetResult.degraded, the new statuses as FieldStatus', () => {
    for (const mode of ['CACHED', 'DEFAULTS'] as const) {
      const r = markDegraded(DatasetResult.build('pf', '7', false, features, null), mode);
      const viaBytes = get.responseDeserialize(encodeEntityResult('e', [r.proto]));
      const viaLoader = get.responseDeserialize(get.responseSerialize({ entity_id: 'e', datasets: [{ ...referenceProto({ dataset: 'pf', version: '7', found: false, features }), degraded: mode }] }));
      expect(viaBytes).toEqual(viaLoader);
      const d = (viaBytes as { datasets: { degraded: string; features: Record<string, { status: string }> }[] }).datasets[0]!;
      expect(d.degraded).toBe(mode);
      expect(d.features['level']!.status).toBe('UNAVAILABLE');
      expect(d.features['old']!.status).toBe('STALE');
    }
    const plain = get.responseDeserialize(encodeEntityResult('e', [DatasetResult.build('pf', '7', true, features, null).proto])) as { datasets: { degraded: string }[] };
    expect(plain.datasets[0]!.degraded).toBe('NOT_DEGRADED');
  });

  it('JSON: "degraded" after "found", the byte length kept exact (non-ASCII names and values)', () => {
    const f: Feature[] = [{ name: 'länd', type: 'string', value: '"features":{ ✓', status: 'PRESENT' }];
    const base = DatasetResult.build('pf', '7', true, f, null);
    const r = markDegraded(base, 'CACHED');
    expect(r.json.startsWith('{"dataset":"pf","version":"7","found":true,"degraded":"CACHED","features":{')).toBe(true);
    expect(r.jsonBytes).toBe(Buffer.byteLength(r.json));
    expect(JSON.parse(r.json)).toEqual({ ...JSON.parse(base.json), degraded: 'CACHED' });
    expect(r.toObject().features['länd']).toEqual({ value: '"features":{ ✓', status: 'PRESENT' });
  });
});
