/**
 * Hand-rolled protobuf encoding of the malt.v1 response messages (proto/malt/v1/serving.proto).
 * A DatasetResult is encoded once per cache entry and reused; an EntityResult or
 * BatchGetResponse is then a few length-prefixed concatenations instead of a full
 * object → protobuf conversion per request. Field numbers must match serving.proto; the gRPC
 * tests decode these bytes with the generic proto-loader client, so a drift fails them.
 */
import type { ColumnType, TypedValue } from '../column-types.js';
import type { Feature, FieldStatus } from './dataset-result.js';

const STATUS_NUMBER: Record<FieldStatus, number> = { PRESENT: 1, NULL_VALUE: 2, NOT_FOUND: 3, DEFAULTED: 4 };

/** A growable byte buffer with protobuf primitives. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Non-negative integers up to 2^53. */
  varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** int64 as a varint, two's complement for negatives (10 bytes), exact via BigInt. */
  int64(decimal: string): void {
    let v = BigInt(decimal);
    if (v < 0n) v += 1n << 64n;
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
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

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
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
      const micros = v as number;
      const seconds = Math.floor(micros / 1_000_000);
      const nanos = (micros - seconds * 1_000_000) * 1000;
      const ts = new Writer(16);
      if (seconds !== 0) { ts.tag(1, 0); ts.int64(String(seconds)); }
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
  return w.finish();
}

/** malt.v1.DatasetResult. */
export function encodeDatasetResult(dataset: string, version: string, found: boolean, features: readonly Feature[]): Buffer {
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
  return Buffer.from(w.finish());
}

/** malt.v1.EntityResult from pre-encoded DatasetResults. */
export function encodeEntityResult(entityId: string, datasets: readonly Buffer[]): Buffer {
  let size = Buffer.byteLength(entityId) + 6;
  for (const d of datasets) size += d.length + 6;
  const w = new Writer(size);
  w.string(1, entityId);
  for (const d of datasets) w.bytes(2, d);
  return w.finish();
}

/** A repeated message field (field 1) of pre-encoded messages: BatchGetResponse. */
export function encodeRepeated(messages: readonly Buffer[]): Buffer {
  let size = 0;
  for (const m of messages) size += m.length + 6;
  const w = new Writer(Math.max(size, 16));
  for (const m of messages) w.bytes(1, m);
  return w.finish();
}
