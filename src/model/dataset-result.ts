/**
 * The answer for one entity in one dataset version, as the cache holds it and both transports
 * send it: rendered once (serving/dataset-result.ts builds it), then only concatenated. A type
 * with no I/O, so cache/ and serving/ share it without importing each other.
 */
import type { Degraded, FieldStatus } from './types.js';

export interface DatasetResult {
  readonly dataset: string;
  readonly version: string;
  readonly found: boolean;
  /** JSON of this result (one element of an entity's "datasets" array). */
  readonly json: string;
  /** UTF-8 byte length of `json`, so responses know their Content-Length without measuring. */
  readonly jsonBytes: number;
  /** malt.v1.DatasetResult wire bytes, as a latin1 string (one char per byte). */
  readonly proto: string;
  /** Segments of the entity for segments datasets, sorted; null for features datasets. */
  readonly segments: readonly string[] | null;
  /** Set on results a fallback answered while Redis could not be read (docs/degraded-modes.md); absent on normal reads. */
  readonly degraded?: Degraded;
  /** Approximate heap bytes, for the byte-bounded cache. */
  approxBytes(): number;
  /** The result as a plain object (tools and tests; the serving path never parses). */
  toObject(): { dataset: string; version: string; found: boolean; features: Record<string, { value: unknown; status: FieldStatus }> };
}
