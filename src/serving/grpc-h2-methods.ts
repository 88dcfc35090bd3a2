/**
 * The three reads the node:http2 fast path (grpc-h2-server.ts) answers itself: request decoding
 * (grpc-request-reader.ts) and the response, already framed (the 5-byte gRPC prefix and the
 * message in one buffer), with the message bytes grpc-js sends: EntityResult and
 * BatchGetResponse from the pre-encoded DatasetResults (the layout of proto-encoding.ts's
 * encodeEntityResult / encodeBatchGetResponse), GetSegmentsResponse as protobufjs encodes it
 * (every field written, defaults included). test/grpc-h2-units.test.ts compares them with
 * proto-encoding.ts and grpc-js's serializers, test/grpc-fast-path.test.ts with grpc-js's answers.
 */
import type * as grpc from '@grpc/grpc-js';
import { ByteWriter } from '../byte-writer.js';
import type { Degraded } from '../model/types.js';
import type { EntityResult, Lookup } from './lookup.js';
import { type EncodedMessage, varintSize } from './proto-encoding.js';
import { BATCH_GET_REQUEST, GET_REQUEST, GET_SEGMENTS_REQUEST, requestDecoder } from './grpc-request-reader.js';

export interface FastMethod {
  /** `Get`, `BatchGet` or `GetSegments` (metrics, spans, auth scope). */
  readonly name: string;
  /** The decoded request, or an UndecodableRequest. */
  readonly decode: (message: Buffer) => unknown;
  /** The response: the 5-byte prefix and the message bytes. */
  readonly run: (request: never, timeoutMs: number) => Promise<Buffer>;
}

interface GetReq { entity_id: string; datasets: string[] }
interface BatchReq { entity_ids: string[]; datasets: string[] }
interface SegReq { entity_id: string; dataset: string }

function putVarint(b: Buffer, at: number, v: number): number {
  while (v > 0x7f) {
    b[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[at++] = v;
  return at;
}

/** An EntityResult's parts: its id's UTF-8 length, its DatasetResults' bytes (each read once: they render lazily) and its body size. */
interface Parts { idBytes: number; protos: EncodedMessage[]; size: number }

function parts(r: EntityResult): Parts {
  const idBytes = Buffer.byteLength(r.entityId);
  const protos: EncodedMessage[] = new Array(r.datasets.length);
  let size = 1 + varintSize(idBytes) + idBytes;
  for (let i = 0; i < protos.length; i++) {
    const d = r.datasets[i]!.proto;
    protos[i] = d;
    size += 1 + varintSize(d.length) + d.length;
  }
  return { idBytes, protos, size };
}

/** EntityResult body: entity_id = 1, repeated DatasetResult datasets = 2. */
function putEntity(b: Buffer, at: number, entityId: string, p: Parts): number {
  b[at++] = 0x0a;
  at = putVarint(b, at, p.idBytes);
  at += b.write(entityId, at, 'utf8');
  for (const d of p.protos) {
    b[at++] = 0x12;
    at = putVarint(b, at, d.length);
    at += b.write(d, at, 'latin1');
  }
  return at;
}

function framed(size: number): Buffer {
  const b = Buffer.allocUnsafe(5 + size);
  b[0] = 0;
  b.writeUInt32BE(size, 1);
  return b;
}

/** A framed malt.v1.EntityResult. */
export function framedEntityResult(r: EntityResult): Buffer {
  const p = parts(r);
  const b = framed(p.size);
  putEntity(b, 5, r.entityId, p);
  return b;
}

/** A framed malt.v1.BatchGetResponse (repeated EntityResult results = 1). */
export function framedBatchGetResponse(rs: readonly EntityResult[]): Buffer {
  const ps: Parts[] = new Array(rs.length);
  let size = 0;
  for (let i = 0; i < rs.length; i++) {
    const p = parts(rs[i]!);
    ps[i] = p;
    size += 1 + varintSize(p.size) + p.size;
  }
  const b = framed(size);
  let at = 5;
  for (let i = 0; i < rs.length; i++) {
    b[at++] = 0x0a;
    at = putVarint(b, at, ps[i]!.size);
    at = putEntity(b, at, rs[i]!.entityId, ps[i]!);
  }
  return b;
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

/** A framed malt.v1.GetSegmentsResponse, the message byte for byte as protobufjs encodes grpc-server.ts's object. */
export function framedGetSegmentsResponse(entityId: string, segments: readonly string[], version: string, found: boolean, degraded: Degraded | null): Buffer {
  const w = new Writer(64 + entityId.length + version.length + segments.length * 16);
  w.pos = 5;
  w.string(1, entityId);
  for (const s of segments) w.string(2, s);
  w.string(3, version);
  w.varintField(4, found ? 1 : 0);
  w.varintField(5, degraded === null ? 0 : DEGRADED_NUMBER[degraded]);
  const b = w.finish();
  b[0] = 0;
  b.writeUInt32BE(b.length - 5, 1);
  return b;
}

/** `/malt.v1.Serving/<method>` → its fast handler; `service` is the grpc-js definition (for its protobufjs request decoders). */
export function fastMethods(lookup: Lookup, service: grpc.ServiceDefinition): Map<string, FastMethod> {
  const exact = (name: string) => (b: Buffer): unknown => service[name]!.requestDeserialize(b);
  const methods: FastMethod[] = [
    {
      name: 'Get',
      decode: requestDecoder(GET_REQUEST, exact('Get')),
      run: (req: GetReq, t: number) => lookup.get([req.entity_id], req.datasets, t).then((rs) => framedEntityResult(rs[0] as EntityResult)),
    },
    {
      name: 'BatchGet',
      decode: requestDecoder(BATCH_GET_REQUEST, exact('BatchGet')),
      run: (req: BatchReq, t: number) => lookup.get(req.entity_ids, req.datasets, t).then(framedBatchGetResponse),
    },
    {
      name: 'GetSegments',
      decode: requestDecoder(GET_SEGMENTS_REQUEST, exact('GetSegments')),
      run: async (req: SegReq, t: number) => {
        const seg = await lookup.segments(req.entity_id, req.dataset, t);
        return framedGetSegmentsResponse(req.entity_id, seg.segments, seg.version, seg.found, seg.degraded);
      },
    },
  ] as FastMethod[];
  return new Map(methods.map((m) => [`/malt.v1.Serving/${m.name}`, m]));
}
