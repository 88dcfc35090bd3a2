/**
 * The answer for one entity in one dataset version, decoded once from Redis and cached rendered:
 * its JSON text (HTTP, with its UTF-8 length) and its malt.v1.DatasetResult protobuf bytes (gRPC)
 * are built once, so a cache hit costs a concatenation, not a decode or an encode, and a cache
 * entry is a few flat objects for the garbage collector instead of a graph of decoded values.
 * JSON stays a (flat, on-heap) string: per-request Buffers of batch size would be external
 * memory, which drove major GCs in the batch benchmark (BENCHMARKS.md).
 */
import type { ColumnType, TypedValue } from '../column-types.js';
import { type EncodedMessage, encodeDatasetResult } from './proto-encoding.js';

import type { Feature, FieldStatus } from '../model/types.js';
import type { DatasetResult as RenderedResult } from '../model/dataset-result.js';
export type { Feature, FieldStatus } from '../model/types.js';

/** The model's DatasetResult (model/dataset-result.ts), built from decoded features. */
export class DatasetResult implements RenderedResult {
  private constructor(
    readonly dataset: string,
    readonly version: string,
    readonly found: boolean,
    /** JSON of this result (one element of an entity's "datasets" array). */
    readonly json: string,
    /** UTF-8 byte length of `json`, so responses know their Content-Length without measuring. */
    readonly jsonBytes: number,
    /** malt.v1.DatasetResult wire bytes, as a latin1 string (one char per byte). */
    readonly proto: EncodedMessage,
    /** Segments of the entity for segments datasets, sorted; null for features datasets. */
    readonly segments: readonly string[] | null,
  ) {}

  static build(dataset: string, version: string, found: boolean, features: readonly Feature[], segments: readonly string[] | null): DatasetResult {
    let out = `{"dataset":${JSON.stringify(dataset)},"version":"${version}","found":${found},"features":{`;
    for (let i = 0; i < features.length; i++) {
      const f = features[i]!;
      out += `${i === 0 ? '' : ','}${JSON.stringify(f.name)}:{"value":${jsonValue(f.type, f.value)},"status":"${f.status}"${f.updated ? ',"updated":true' : ''}}`;
    }
    const json = `${out}}}`;
    return new DatasetResult(dataset, version, found, json, Buffer.byteLength(json), encodeDatasetResult(dataset, version, found, features), segments);
  }

  /** Approximate heap bytes, for the byte-bounded cache. */
  approxBytes(): number {
    // Object headers, the JSON string (up to 2 bytes a char) and the one-byte proto string.
    let n = 200 + this.dataset.length * 2 + this.json.length * 2 + this.proto.length;
    if (this.segments) for (const s of this.segments) n += 40 + s.length * 2;
    return n;
  }

  /** The result as a plain object (tools and tests; the serving path never parses). */
  toObject(): { dataset: string; version: string; found: boolean; features: Record<string, { value: unknown; status: FieldStatus }> } {
    return JSON.parse(this.json);
  }
}

/** RFC 3339 with 3 or 6 fractional digits, as proto3 JSON renders a Timestamp. */
export function formatTimestamp(micros: bigint): string {
  let ms = micros / 1000n;
  if (ms * 1000n > micros) ms -= 1n;
  const iso = new Date(Number(ms)).toISOString();
  const extra = micros - ms * 1000n;
  return extra === 0n ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
}

/** JSON text of a value: int64 as a string (exact), timestamps as RFC 3339, non-finite doubles as strings. */
export function jsonValue(type: ColumnType, v: TypedValue | null): string {
  if (v === null) return 'null';
  switch (type) {
    case 'int64': return `"${v as string}"`;
    case 'timestamp': return `"${formatTimestamp(v as bigint)}"`;
    case 'double': return Number.isFinite(v) ? String(v) : `"${String(v)}"`;
    default: return JSON.stringify(v);
  }
}
