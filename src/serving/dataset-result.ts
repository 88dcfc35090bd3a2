/**
 * The answer for one entity in one dataset version, decoded once from Redis and cached. It
 * renders itself for each transport lazily and memoises the rendering (JSON text for HTTP,
 * protobuf bytes for gRPC), so a cache hit costs a concatenation, not a decode or an encode.
 */
import type { ColumnType, TypedValue } from '../column-types.js';
import { encodeDatasetResult } from './proto-encoding.js';

export type FieldStatus = 'PRESENT' | 'NULL_VALUE' | 'NOT_FOUND' | 'DEFAULTED';

export interface Feature {
  readonly name: string;
  readonly type: ColumnType;
  readonly value: TypedValue | null;
  readonly status: FieldStatus;
}

export class DatasetResult {
  private json: string | undefined;
  private protoBytes: Buffer | undefined;

  constructor(
    readonly dataset: string,
    readonly version: string,
    readonly found: boolean,
    readonly features: readonly Feature[],
    /** Segments of the entity for segments datasets, sorted; null for features datasets. */
    readonly segments: readonly string[] | null,
  ) {}

  /**
   * Approximate heap bytes, for the byte-bounded cache: the decoded values plus room for the
   * memoised JSON text and protobuf bytes (each about the JSON's length).
   */
  approxBytes(): number {
    let n = 160 + this.dataset.length * 2;
    for (const f of this.features) n += 96 + f.name.length * 2 + valueBytes(f.value);
    if (this.segments) for (const s of this.segments) n += 40 + s.length * 2;
    return n + 2 * this.toJson().length;
  }

  toJson(): string {
    if (this.json === undefined) {
      let out = `{"dataset":${JSON.stringify(this.dataset)},"version":"${this.version}","found":${this.found},"features":{`;
      let first = true;
      for (const f of this.features) {
        out += `${first ? '' : ','}${JSON.stringify(f.name)}:{"value":${jsonValue(f.type, f.value)},"status":"${f.status}"}`;
        first = false;
      }
      this.json = `${out}}}`;
    }
    return this.json;
  }

  /** The malt.v1.DatasetResult wire bytes, encoded once. */
  toProtoBytes(): Buffer {
    this.protoBytes ??= encodeDatasetResult(this.dataset, this.version, this.found, this.features);
    return this.protoBytes;
  }
}

function valueBytes(v: TypedValue | null): number {
  if (v === null) return 0;
  if (typeof v === 'string') return 40 + v.length * 2;
  if (Array.isArray(v)) return 32 + v.reduce((n: number, s: string) => n + 40 + s.length * 2, 0);
  return 16;
}

/** RFC 3339 with 3 or 6 fractional digits, as proto3 JSON renders a Timestamp. */
export function formatTimestamp(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString();
  const extra = micros - ms * 1000;
  return extra === 0 ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
}

/** JSON text of a value: int64 as a string (exact), timestamps as RFC 3339, non-finite doubles as strings. */
export function jsonValue(type: ColumnType, v: TypedValue | null): string {
  if (v === null) return 'null';
  switch (type) {
    case 'int64': return `"${v as string}"`;
    case 'timestamp': return `"${formatTimestamp(v as number)}"`;
    case 'double': return Number.isFinite(v) ? String(v) : `"${String(v)}"`;
    default: return JSON.stringify(v);
  }
}
