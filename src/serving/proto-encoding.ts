/**
 * Hand-rolled protobuf encoding of the malt.v1 response messages (proto/malt/v1/serving.proto).
 * A DatasetResult is encoded once per cache entry and reused; an EntityResult or
 * BatchGetResponse is then a few length-prefixed concatenations instead of a full
 * object → protobuf conversion per request. Field numbers must match serving.proto; the gRPC
 * tests decode these bytes with the generic proto-loader client, so a drift fails them.
 */
import type { ColumnType, TypedValue } from '../column-types.js';
import type { Feature, FieldStatus } from '../model/types.js';
import { ByteWriter } from '../byte-writer.js';

const STATUS_NUMBER: Record<FieldStatus, number> = { PRESENT: 1, NULL_VALUE: 2, NOT_FOUND: 3, DEFAULTED: 4, STALE: 5, UNAVAILABLE: 6 };

/** Protobuf wire primitives over the shared byte buffer. */
class Writer extends ByteWriter {
  varint(value: number): void {
    this.uvarint(value);
  }

  /** int64 as a varint, two's complement for negatives (10 bytes), exact via BigInt. */
  int64(decimal: string): void {
    const v = BigInt(decimal);
    this.bigUvarint(v < 0n ? v + (1n << 64n) : v);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  bytes(field: number, data: Buffer | Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  string(field: number, s: string): void {
    const len = Buffer.byteLength(s);
    this.tag(field, 2);
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  double(field: number, d: number): void {
    this.tag(field, 1);
    this.ensure(8);
    this.buf.writeDoubleLE(d, this.pos);
    this.pos += 8;
  }

}

function encodeValue(type: ColumnType, v: TypedValue): Buffer {
  const w = new Writer(32);
  switch (type) {
    case 'int64': w.tag(1, 0); w.int64(v as string); break;
    case 'double': w.double(2, v as number); break;
    case 'string': w.string(3, v as string); break;
    case 'bool': w.tag(4, 0); w.varint(v ? 1 : 0); break;
    case 'timestamp': {
      // Exact: seconds = floor(µs / 1e6), nanos = (µs mod 1e6) * 1000, in [0, 1e9).
      const micros = v as bigint;
      let seconds = micros / 1_000_000n;
      if (seconds * 1_000_000n > micros) seconds -= 1n;
      const nanos = Number(micros - seconds * 1_000_000n) * 1000;
      const ts = new Writer(16);
      if (seconds !== 0n) { ts.tag(1, 0); ts.int64(String(seconds)); }
      if (nanos !== 0) { ts.tag(2, 0); ts.varint(nanos); }
      w.bytes(5, ts.finish());
      break;
    }
    case 'string_list': {
      const list = new Writer(64);
      for (const s of v as readonly string[]) list.string(1, s);
      w.bytes(6, list.finish());
      break;
    }
  }
  return w.finish();
}

function encodeFeature(f: Feature): Buffer {
  const w = new Writer(64);
  if (f.value !== null) w.bytes(1, encodeValue(f.type, f.value));
  w.tag(2, 0);
  w.varint(STATUS_NUMBER[f.status]);
  if (f.updated) { w.tag(3, 0); w.varint(1); }
  return w.finish();
}

/** malt.v1.DatasetResult. */
export function encodeDatasetResult(dataset: string, version: string, found: boolean, features: readonly Feature[]): string {
  const w = new Writer(256);
  w.string(1, dataset);
  w.string(2, version);
  if (found) { w.tag(3, 0); w.varint(1); }
  for (const f of features) {
    const entry = new Writer(96);
    entry.string(1, f.name);
    entry.bytes(2, encodeFeature(f));
    w.bytes(4, entry.finish());
  }
  // Cached as a one-byte-per-byte (latin1) string: on the heap, counted exactly, no external
  // memory (a Buffer slice would pin a shared 8 KiB pool block, an own ArrayBuffer per entry
  // slows major GCs); responses copy it straight into their output buffer.
  return w.buf.toString('latin1', 0, w.pos);
}

/** Bytes of `v` (≥ 0) as a protobuf varint. */
export function varintSize(v: number): number {
  let n = 1;
  while (v > 0x7f) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Encoded size of an EntityResult body (without its own tag/length). */
/** Pre-encoded DatasetResult messages: wire bytes held as latin1 strings (see encodeDatasetResult). */
export type EncodedMessage = string;

function entitySize(idBytes: number, datasets: readonly EncodedMessage[]): number {
  let n = 1 + varintSize(idBytes) + idBytes;
  for (const d of datasets) n += 1 + varintSize(d.length) + d.length;
  return n;
}

function writeEntity(w: Writer, entityId: string, idBytes: number, datasets: readonly EncodedMessage[]): void {
  w.tag(1, 2);
  w.varint(idBytes);
  w.pos += w.buf.write(entityId, w.pos, 'utf8');
  for (const d of datasets) {
    w.tag(2, 2);
    w.varint(d.length);
    w.pos += w.buf.write(d, w.pos, 'latin1');
  }
}

/** malt.v1.EntityResult from pre-encoded DatasetResults, in one allocation. */
export function encodeEntityResult(entityId: string, datasets: readonly EncodedMessage[]): Buffer {
  const idBytes = Buffer.byteLength(entityId);
  const w = new Writer(entitySize(idBytes, datasets));
  writeEntity(w, entityId, idBytes, datasets);
  return w.finish();
}

/** malt.v1.BatchGetResponse (repeated EntityResult results = 1), written into one buffer. */
export function encodeBatchGetResponse(entities: readonly { entityId: string; datasets: readonly EncodedMessage[] }[]): Buffer {
  const sizes: number[] = new Array(entities.length);
  const idSizes: number[] = new Array(entities.length);
  let total = 0;
  for (let i = 0; i < entities.length; i++) {
    const e = entities[i]!;
    idSizes[i] = Buffer.byteLength(e.entityId);
    const size = entitySize(idSizes[i]!, e.datasets);
    sizes[i] = size;
    total += 1 + varintSize(size) + size;
  }
  const w = new Writer(total);
  for (let i = 0; i < entities.length; i++) {
    const e = entities[i]!;
    w.tag(1, 2);
    w.varint(sizes[i]!);
    writeEntity(w, e.entityId, idSizes[i]!, e.datasets);
  }
  return w.finish();
}
