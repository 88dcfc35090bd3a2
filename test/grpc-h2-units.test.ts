/**
 * The fast path's pieces on their own (serving/grpc-timeout.ts, grpc-h2-framing.ts,
 * grpc-request-reader.ts, grpc-h2-methods.ts), checked against what grpc-js and protobufjs do
 * with the same input.
 */
import { deflateSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { MessageReader, MessageTooLarge, compressedProblem, decompress, frameMessage } from '../src/serving/grpc-h2-framing.js';
import { framedBatchGetResponse, framedEntityResult, framedGetSegmentsResponse } from '../src/serving/grpc-h2-methods.js';
import type { EntityResult } from '../src/serving/lookup.js';
import { encodeBatchGetResponse, encodeDatasetResult, encodeEntityResult } from '../src/serving/proto-encoding.js';
import { BATCH_GET_REQUEST, GET_REQUEST, GET_SEGMENTS_REQUEST, UndecodableRequest, requestDecoder } from '../src/serving/grpc-request-reader.js';
import { loadServingPackage } from '../src/serving/grpc-server.js';
import { invalidTimeoutMessage, parseGrpcTimeout } from '../src/serving/grpc-timeout.js';

const service = (grpc.loadPackageDefinition(loadServingPackage()) as unknown as { malt: { v1: { Serving: grpc.ServiceClientConstructor } } }).malt.v1.Serving.service;

describe('grpc-timeout', () => {
  it('reads every unit (H M S m u n) as milliseconds, truncated like grpc-js', () => {
    expect(parseGrpcTimeout('2H')).toBe(7_200_000);
    expect(parseGrpcTimeout('3M')).toBe(180_000);
    expect(parseGrpcTimeout('5S')).toBe(5000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBe(1);
    expect(parseGrpcTimeout('999u')).toBe(0);
    expect(parseGrpcTimeout('99999999n')).toBe(99);
    expect(parseGrpcTimeout('12345678m')).toBe(12_345_678);
  });

  it('takes the first digits-unit match, as grpc-js does, and refuses what has none', () => {
    expect(parseGrpcTimeout('10 S')).toBe(10_000);
    expect(parseGrpcTimeout('x7m')).toBe(7);
    // The last 8 digits (grpc-js's unanchored /(\d{1,8})\s*([HMSmun])/), and the `| 0` wraps at 2^31 ms as in grpc-js.
    expect(parseGrpcTimeout('123456789S')).toBe(23_456_789_000 | 0);
    expect(parseGrpcTimeout('2000000S')).toBe(2_000_000_000);
    expect(parseGrpcTimeout('soon')).toBeNull();
    expect(parseGrpcTimeout('10')).toBeNull();
    expect(parseGrpcTimeout('10s')).toBeNull();
    expect(parseGrpcTimeout('')).toBeNull();
    expect(invalidTimeoutMessage('soon')).toBe('Invalid grpc-timeout value "soon"');
  });
});

describe('message framing', () => {
  const collect = (chunks: Buffer[], limit?: number): [boolean, string][] => {
    const r = new MessageReader(limit);
    const out: [boolean, string][] = [];
    const sink = { onMessage: (compressed: boolean, body: Buffer): void => { out.push([compressed, body.toString('hex')]); } };
    for (const c of chunks) r.write(c, sink);
    return out;
  };

  it('frames a message with the 5-byte prefix', () => {
    expect(frameMessage(Buffer.from('abc')).toString('hex')).toBe('0000000003616263');
    expect(frameMessage(Buffer.alloc(0)).toString('hex')).toBe('0000000000');
  });

  it('reads messages split anywhere across chunks, several per chunk, and empty ones', () => {
    const all = Buffer.concat([frameMessage(Buffer.from('hello')), Buffer.from([1, 0, 0, 0, 2, 0xaa, 0xbb]), frameMessage(Buffer.alloc(0))]);
    const expected: [boolean, string][] = [[false, '68656c6c6f'], [true, 'aabb'], [false, '']];
    expect(collect([all])).toEqual(expected);
    for (let cut = 1; cut < all.length; cut++) expect(collect([all.subarray(0, cut), all.subarray(cut)])).toEqual(expected);
    expect(collect([...all].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  it('counts only a flag of 1 as compressed (grpc-js)', () => {
    expect(collect([Buffer.from([2, 0, 0, 0, 1, 7])])).toEqual([[false, '07']]);
  });

  it('refuses a message over the limit as soon as its length is read, with grpc-js\'s message', () => {
    const r = new MessageReader(10);
    let err: unknown;
    try {
      r.write(Buffer.from([0, 0, 0, 0, 11]), { onMessage: () => undefined });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MessageTooLarge);
    expect((err as MessageTooLarge).details).toBe('Received message larger than max (11 vs 10)');
    expect((err as MessageTooLarge).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(collect([Buffer.from([0, 0, 0, 0, 10]), Buffer.alloc(10)], 10)).toHaveLength(1);
  });

  it('decompresses gzip and deflate; refuses corrupt data and a message that grows past the limit', async () => {
    const msg = Buffer.from('the request message');
    expect(await decompress(gzipSync(msg), 'gzip')).toEqual(msg);
    expect(await decompress(deflateSync(msg), 'deflate')).toEqual(msg);
    await expect(decompress(Buffer.from('nope'), 'gzip')).rejects.toEqual({ code: grpc.status.INTERNAL, details: 'Failed to decompress message' });
    await expect(decompress(gzipSync(Buffer.alloc(5000)), 'gzip', 4096)).rejects.toEqual({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Received message that decompresses to a size larger than 4096' });
  });

  it('says which encodings a compressed message may use', () => {
    expect(compressedProblem('gzip')).toBeNull();
    expect(compressedProblem('deflate')).toBeNull();
    expect(compressedProblem('identity')).toBeNull();
    expect(compressedProblem('snappy')).toEqual({ code: grpc.status.UNIMPLEMENTED, details: 'Received message compressed with unsupported encoding "snappy"' });
  });
});

describe('request reader', () => {
  const exact = (name: string) => (b: Buffer): unknown => service[name]!.requestDeserialize(b);
  const protobufjs = (name: string, b: Buffer): unknown => {
    try {
      return exact(name)(b);
    } catch (err) {
      return new UndecodableRequest((err as Error).message);
    }
  };
  const decoders = { Get: requestDecoder(GET_REQUEST, exact('Get')), BatchGet: requestDecoder(BATCH_GET_REQUEST, exact('BatchGet')), GetSegments: requestDecoder(GET_SEGMENTS_REQUEST, exact('GetSegments')) };

  it('reads real requests as protobufjs does', () => {
    const cases: [keyof typeof decoders, unknown][] = [
      ['Get', { entity_id: 'p1', datasets: ['players', 'clans'] }],
      ['Get', { entity_id: 'ÅÄÖ-ü', datasets: [] }],
      ['Get', {}],
      ['BatchGet', { entity_ids: ['a', 'b', 'x'.repeat(300)], datasets: ['d'] }],
      ['BatchGet', { entity_ids: Array.from({ length: 1000 }, (_, i) => `p${i}`) }],
      ['GetSegments', { entity_id: 'p1', dataset: 'segments' }],
    ];
    for (const [m, req] of cases) {
      const bytes = service[m]!.requestSerialize(req);
      expect(decoders[m](bytes)).toEqual(protobufjs(m, bytes));
    }
  });

  it('agrees with protobufjs on random and mutated bytes, result or reason', () => {
    let seed = 20261204;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const valid = service['BatchGet']!.requestSerialize({ entity_ids: ['p1', 'p22'], datasets: ['players'] });
    for (let i = 0; i < 3000; i++) {
      let b: Buffer;
      if (i % 2 === 0) {
        b = Buffer.from(Array.from({ length: Math.floor(rnd() * 24) }, () => Math.floor(rnd() * 256)));
      } else {
        b = Buffer.from(valid);
        b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      }
      for (const m of ['Get', 'BatchGet', 'GetSegments'] as const) expect(decoders[m](b), `${m} ${b.toString('hex')}`).toEqual(protobufjs(m, b));
    }
  });

  it('skips unknown fields of every wire type', () => {
    const tail = service['Get']!.requestSerialize({ entity_id: 'p1', datasets: ['d'] });
    const b = Buffer.concat([Buffer.from([0x18, 0x96, 0x01, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x2d, 1, 2, 3, 4, 0x32, 0x02, 0x61, 0x62]), tail]);
    expect(decoders.Get(b)).toEqual({ entity_id: 'p1', datasets: ['d'] });
  });
});

describe('GetSegmentsResponse', () => {
  it('is byte for byte what grpc-js serializes for grpc-server.ts\'s object', () => {
    const ser = service['GetSegments']!.responseSerialize;
    const cases: [string, string[], string, boolean, 'CACHED' | 'DEFAULTS' | null][] = [
      ['', [], '', false, null],
      ['p1', ['whale', 'eu'], '42', true, null],
      ['ÅÄÖ', ['é'.repeat(200)], 'v', true, 'CACHED'],
      ['p2', [], '7', false, 'DEFAULTS'],
      ['x'.repeat(300), Array.from({ length: 50 }, (_, i) => `s${i}`), '1', true, null],
    ];
    for (const [id, segs, version, found, degraded] of cases) {
      const ours = framedGetSegmentsResponse(id, segs, version, found, degraded);
      const theirs = ser({ entity_id: id, segments: segs, version, found, degraded: degraded ?? 'NOT_DEGRADED' });
      expect(ours.toString('hex')).toBe(frameMessage(theirs).toString('hex'));
    }
  });
});

describe('framed EntityResult and BatchGetResponse', () => {
  it('are proto-encoding.ts\'s bytes behind the 5-byte prefix, for ids and payloads of every varint size', () => {
    const ds = (name: string, n: number): string => encodeDatasetResult(name, '7', n > 0, Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: 'string', value: 'v'.repeat(i * 7), status: 'PRESENT' }) as never));
    const entity = (id: string, protos: string[]): EntityResult => ({ entityId: id, datasets: protos.map((proto) => ({ proto })) }) as unknown as EntityResult;
    const cases = [entity('', []), entity('p1', [ds('players', 3)]), entity('ÅÄÖ'.repeat(50), [ds('a', 0), ds('b', 40)]), entity('x'.repeat(20_000), [ds('big', 400)])];
    for (const e of cases) {
      const protos = e.datasets.map((d) => d.proto);
      expect(framedEntityResult(e).equals(frameMessage(encodeEntityResult(e.entityId, protos)))).toBe(true);
    }
    const batch = encodeBatchGetResponse(cases.map((e) => ({ entityId: e.entityId, datasets: e.datasets.map((d) => d.proto) })));
    expect(framedBatchGetResponse(cases).equals(frameMessage(batch))).toBe(true);
    expect(framedBatchGetResponse([]).toString('hex')).toBe('0000000000');
  });
});

describe('serving.grpc_fast_path', () => {
  const doc = (serving: Record<string, unknown> = {}): Record<string, unknown> => ({
    serving, datasets: [{ name: 'players', kind: 'features', source: { format: 'parquet', uri: '/nowhere' }, key: 'id', allow_empty: true }],
  });

  it('defaults to true; the file and MALT_GRPC_FAST_PATH (true / false) set it, the environment winning', () => {
    expect(loadConfig({ document: doc(), env: {} }).serving.grpcFastPath).toBe(true);
    expect(loadConfig({ document: doc({ grpc_fast_path: false }), env: {} }).serving.grpcFastPath).toBe(false);
    expect(loadConfig({ document: doc(), env: { MALT_GRPC_FAST_PATH: 'false' } }).serving.grpcFastPath).toBe(false);
    expect(loadConfig({ document: doc({ grpc_fast_path: false }), env: { MALT_GRPC_FAST_PATH: 'true' } }).serving.grpcFastPath).toBe(true);
    expect(loadConfig({ document: doc(), env: { MALT_GRPC_FAST_PATH: '' } }).serving.grpcFastPath).toBe(true);
  });

  it('refuses anything but a boolean, naming the key', () => {
    expect(() => loadConfig({ document: doc(), env: { MALT_GRPC_FAST_PATH: 'yes' } })).toThrow(/serving\.grpc_fast_path: must be true or false, got "yes"/);
    expect(() => loadConfig({ document: doc({ grpc_fast_path: 1 }), env: {} })).toThrow(/serving\.grpc_fast_path: must be true or false/);
  });
});
