/**
 * The answer for one entity in one dataset version, decoded once from Redis and cached rendered:
 * its JSON text (HTTP, with its UTF-8 length) and its malt.v1.DatasetResult protobuf bytes (gRPC),
 * so a cache hit costs a concatenation, not a decode or an encode, and a cache entry is a few flat
 * objects for the garbage collector instead of a graph of decoded values.
 * JSON stays a (flat, on-heap) string: per-request Buffers of batch size would be external
 * memory, which drove major GCs in the batch benchmark (BENCHMARKS.md).
 *
 * Results read from Redis render their protobuf lazily (DatasetResult.lazy): JSON at once, the
 * protobuf on first use by gRPC, from the same features decoded again from the stored row (kept
 * as one flat latin1 string until then). An HTTP-only miss, the common case on a cache far
 * smaller than the key set, so pays for one rendering, not two; both transports still render the
 * same decoded values (test/lazy-render.test.ts).
 */
import type { ColumnType, TypedValue } from '../column-types.js';
import { type EncodedMessage, encodeDatasetResult } from './proto-encoding.js';

import type { Feature, FieldStatus } from '../model/types.js';
import type { DatasetResult as RenderedResult } from '../model/dataset-result.js';
export type { Feature, FieldStatus } from '../model/types.js';

/**
 * An upper bound on a DatasetResult's protobuf size from its JSON's UTF-8 size, so a cache entry
 * is charged for its protobuf before it is rendered. Protobuf is never larger: the JSON header
 * (`{"dataset":…,"version":…,"found":…,"features":{` … `}}`) outweighs the protobuf's two
 * tagged strings and flag; per feature the JSON spends at least 30 bytes on keys and punctuation
 * (`"…":{"value":…,"status":"…"}`) where the protobuf spends at most 18 on tags, lengths and the
 * status; a value is at least as long in JSON as in protobuf except an int64 (`"-1"`, 4 bytes
 * vs up to 11) or a double (`1` vs 9), at most 8 more, which that difference covers; list
 * elements of 16 KiB or more take one byte more each in protobuf, which the 1/1024 margin
 * covers. test/lazy-render.test.ts checks the bound on edge values.
 */
export function protoBound(jsonBytes: number): number {
  return jsonBytes + (jsonBytes >>> 10) + 16;
}

/**
 * The model's DatasetResult (model/dataset-result.ts): the type is the model's interface (degraded
 * copies and tests build their own), the builders below make this class's instances.
 */
export type DatasetResult = RenderedResult;

/** What a lazy result renders its protobuf from on first use: the same features, made again. */
export interface FeatureSource {
  /** The features the JSON was rendered from (decoded anew from the same stored row). */
  features(): readonly Feature[];
  /** Heap bytes held until then (the stored row), charged to the cache entry. */
  readonly heldBytes: number;
}

class Rendered implements RenderedResult {
  /** malt.v1.DatasetResult wire bytes as a latin1 string, once rendered (null: not yet). */
  private rendered: EncodedMessage | null;
  /** Renders the protobuf on first use (lazy results); null once rendered. */
  private source: FeatureSource | null;

  private constructor(
    readonly dataset: string,
    readonly version: string,
    readonly found: boolean,
    /** JSON of this result (one element of an entity's "datasets" array). */
    readonly json: string,
    /** UTF-8 byte length of `json`, so responses know their Content-Length without measuring. */
    readonly jsonBytes: number,
    proto: EncodedMessage | null,
    source: FeatureSource | null,
    /** Segments of the entity for segments datasets, sorted; null for features datasets. */
    readonly segments: readonly string[] | null,
    /** Heap bytes held until the protobuf is rendered (the stored row kept to render it). */
    private readonly pendingBytes: number,
  ) {
    this.rendered = proto;
    this.source = source;
  }

  /** malt.v1.DatasetResult wire bytes, as a latin1 string (one char per byte); rendered once. */
  get proto(): EncodedMessage {
    if (this.rendered === null) {
      this.rendered = encodeDatasetResult(this.dataset, this.version, this.found, (this.source as FeatureSource).features());
      this.source = null;
    }
    return this.rendered;
  }

  /** Both renderings at once (degraded defaults, update-merged results, tools and tests). */
  static build(dataset: string, version: string, found: boolean, features: readonly Feature[], segments: readonly string[] | null): DatasetResult {
    const json = renderJson(dataset, version, found, features);
    return new Rendered(dataset, version, found, json, Buffer.byteLength(json), encodeDatasetResult(dataset, version, found, features), null, segments, 0);
  }

  /**
   * JSON now; the protobuf on first use, from `again()`, which must return the same features
   * (decoded anew from the same stored row: nothing else is kept). `heldBytes`: what `again`
   * holds until then (charged to the cache entry, with the protobuf's bound).
   */
  static lazy(dataset: string, version: string, found: boolean, features: readonly Feature[], segments: readonly string[] | null, again: () => readonly Feature[], heldBytes: number): DatasetResult {
    return Rendered.fromJson(dataset, version, found, renderJson(dataset, version, found, features), segments, { features: again, heldBytes });
  }

  /**
   * lazy() with the JSON already rendered from the same features (serving/row-json.ts renders it
   * straight from a stored row); `source` makes them again for the protobuf.
   */
  static fromJson(dataset: string, version: string, found: boolean, json: string, segments: readonly string[] | null, source: FeatureSource): DatasetResult {
    return new Rendered(dataset, version, found, json, Buffer.byteLength(json), null, source, segments, source.heldBytes + 120);
  }

  /**
   * Approximate heap bytes, for the byte-bounded cache: an upper bound for the whole life of the
   * entry (the cache measures an entry once, when it is inserted), so a protobuf not yet rendered
   * is charged at its bound (protoBound) along with what is kept to render it.
   */
  approxBytes(): number {
    // Object headers, the JSON string (up to 2 bytes a char) and the one-byte proto string.
    let n = 200 + this.dataset.length * 2 + this.json.length * 2;
    n += this.pendingBytes === 0 ? (this.rendered as EncodedMessage).length : protoBound(this.jsonBytes) + this.pendingBytes;
    if (this.segments) for (const s of this.segments) n += 40 + s.length * 2;
    return n;
  }

  /** The result as a plain object (tools and tests; the serving path never parses). */
  toObject(): { dataset: string; version: string; found: boolean; features: Record<string, { value: unknown; status: FieldStatus }> } {
    return JSON.parse(this.json);
  }
}

/** Builds DatasetResults: `build` renders both formats, `lazy` the JSON now and the protobuf on first use. */
export const DatasetResult = { build: Rendered.build, lazy: Rendered.lazy, fromJson: Rendered.fromJson } as const;

function renderJson(dataset: string, version: string, found: boolean, features: readonly Feature[]): string {
  let out = `{"dataset":${JSON.stringify(dataset)},"version":"${version}","found":${found},"features":{`;
  for (let i = 0; i < features.length; i++) {
    const f = features[i]!;
    out += `${i === 0 ? '' : ','}${JSON.stringify(f.name)}:{"value":${jsonValue(f.type, f.value)},"status":"${f.status}"${f.updated ? ',"updated":true' : ''}}`;
  }
  return `${out}}}`;
}

/** RFC 3339 with 3 or 6 fractional digits, as proto3 JSON renders a Timestamp. */
export function formatTimestamp(micros: bigint): string {
  const n = Number(micros);
  if (Number.isSafeInteger(n)) {
    // The same digits without bigint arithmetic (exact: every step stays an integer below 2^53).
    const extra = ((n % 1000) + 1000) % 1000;
    const iso = new Date((n - extra) / 1000).toISOString();
    return extra === 0 ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
  }
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
