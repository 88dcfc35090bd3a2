/**
 * The three reads the node:http2 fast path (grpc-h2-server.ts) answers itself: request decoding
 * (grpc-request-reader.ts) and the response message bytes, the same bytes grpc-js sends for
 * them: Get and BatchGet from the pre-encoded DatasetResults (proto-encoding.ts), and
 * GetSegmentsResponse encoded here as protobufjs encodes it (every field written, defaults
 * included). test/grpc-h2-methods.test.ts compares these with grpc-js's serializers.
 */
import type * as grpc from '@grpc/grpc-js';
import { ByteWriter } from '../byte-writer.js';
import type { Degraded } from '../model/types.js';
import type { EntityResult, Lookup } from './lookup.js';
import { type EncodedMessage, encodeBatchGetResponse, encodeEntityResult } from './proto-encoding.js';
import { BATCH_GET_REQUEST, GET_REQUEST, GET_SEGMENTS_REQUEST, requestDecoder } from './grpc-request-reader.js';

export interface FastMethod {
  /** `Get`, `BatchGet` or `GetSegments` (metrics, spans, auth scope). */
  readonly name: string;
  /** The decoded request, or an UndecodableRequest. */
  readonly decode: (message: Buffer) => unknown;
  /** The response message bytes (not framed). */
  readonly run: (request: never, timeoutMs: number) => Promise<Buffer>;
}

interface GetReq { entity_id: string; datasets: string[] }
interface BatchReq { entity_ids: string[]; datasets: string[] }
interface SegReq { entity_id: string; dataset: string }

function protoParts(r: EntityResult): { entityId: string; datasets: EncodedMessage[] } {
  const datasets: EncodedMessage[] = new Array(r.datasets.length);
  for (let i = 0; i < r.datasets.length; i++) datasets[i] = r.datasets[i]!.proto;
  return { entityId: r.entityId, datasets };
}

const DEGRADED_NUMBER: Readonly<Record<Degraded, number>> = { CACHED: 1, DEFAULTS: 2 };

class Writer extends ByteWriter {
  string(field: number, s: string): void {
    const len = Buffer.byteLength(s);
    this.uvarint((field << 3) | 2);
    this.uvarint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  varintField(field: number, v: number): void {
    this.uvarint(field << 3);
    this.uvarint(v);
  }
}

/** malt.v1.GetSegmentsResponse, byte for byte as protobufjs encodes grpc-server.ts's object. */
export function encodeGetSegmentsResponse(entityId: string, segments: readonly string[], version: string, found: boolean, degraded: Degraded | null): Buffer {
  const w = new Writer(64 + entityId.length + version.length + segments.length * 16);
  w.string(1, entityId);
  for (const s of segments) w.string(2, s);
  w.string(3, version);
  w.varintField(4, found ? 1 : 0);
  w.varintField(5, degraded === null ? 0 : DEGRADED_NUMBER[degraded]);
  return w.finish();
}

/** `/malt.v1.Serving/<method>` → its fast handler; `service` is the grpc-js definition (for its protobufjs request decoders). */
export function fastMethods(lookup: Lookup, service: grpc.ServiceDefinition): Map<string, FastMethod> {
  const exact = (name: string) => (b: Buffer): unknown => service[name]!.requestDeserialize(b);
  const methods: FastMethod[] = [
    {
      name: 'Get',
      decode: requestDecoder(GET_REQUEST, exact('Get')),
      run: async (req: GetReq, t: number) => {
        const p = protoParts((await lookup.get([req.entity_id], req.datasets, t))[0] as EntityResult);
        return encodeEntityResult(p.entityId, p.datasets);
      },
    },
    {
      name: 'BatchGet',
      decode: requestDecoder(BATCH_GET_REQUEST, exact('BatchGet')),
      run: async (req: BatchReq, t: number) => encodeBatchGetResponse((await lookup.get(req.entity_ids, req.datasets, t)).map(protoParts)),
    },
    {
      name: 'GetSegments',
      decode: requestDecoder(GET_SEGMENTS_REQUEST, exact('GetSegments')),
      run: async (req: SegReq, t: number) => {
        const seg = await lookup.segments(req.entity_id, req.dataset, t);
        return encodeGetSegmentsResponse(req.entity_id, seg.segments, seg.version, seg.found, seg.degraded);
      },
    },
  ] as FastMethod[];
  return new Map(methods.map((m) => [`/malt.v1.Serving/${m.name}`, m]));
}
