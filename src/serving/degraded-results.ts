/**
 * What answers when Redis cannot be read in time (docs/degraded-modes.md): each dataset's
 * `fallback` list, in order — `cached` (this replica's cached result, marked `degraded: CACHED`),
 * `defaults` (the configured defaults, marked `degraded: DEFAULTS`) — and after it the coded
 * STORE_UNAVAILABLE. The lookup calls in here only off the normal path: for a cache hit while the
 * circuit breaker is not closed, and after a request's Redis read failed.
 */
import { MaltError, toMaltError } from '../errors.js';
import type { Degraded } from '../model/types.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { DatasetResult, type Feature } from './dataset-result.js';
import type { DegradedCounters } from './degraded-counters.js';
import type { ServedVersion } from './version-tracker.js';

/** malt.v1.Degraded numbers (proto/malt/v1/serving.proto). */
const DEGRADED_NUMBER: Record<Degraded, number> = { CACHED: 1, DEFAULTS: 2 };

/**
 * The same result marked degraded. JSON: `"degraded":"…"` after `found` (dataset names and
 * versions cannot contain `,"features":{`, so its first occurrence is the key). Protobuf: field 5
 * (varint) appended, which decoders accept in any position.
 */
export function markDegraded(r: DatasetResult, mode: Degraded): DatasetResult {
  const at = r.json.indexOf(',"features":{');
  const insert = `,"degraded":"${mode}"`;
  const json = `${r.json.slice(0, at)}${insert}${r.json.slice(at)}`;
  const base = r;
  // Rendered when gRPC first asks (the base may render its own protobuf lazily too).
  let proto: string | null = null;
  const marked: DatasetResult & { readonly degraded: Degraded } = {
    dataset: r.dataset, version: r.version, found: r.found, json, jsonBytes: r.jsonBytes + insert.length, segments: r.segments, degraded: mode,
    get proto(): string {
      return (proto ??= `${base.proto}\u0028${String.fromCharCode(DEGRADED_NUMBER[mode])}`);
    },
    approxBytes: () => base.approxBytes() + insert.length * 2 + 2,
    toObject: () => JSON.parse(json),
  };
  return marked;
}

export class DegradedReads {
  private readonly markedCache = new WeakMap<DatasetResult, DatasetResult>();
  private readonly defaultsOf = new WeakMap<ServedVersion, DatasetResult | null>();

  constructor(readonly breaker: CircuitBreaker, readonly counters: DegradedCounters) {}

  /** A cache hit while the breaker is open or half-open: the first applicable fallback. */
  cachedHit(v: ServedVersion, hit: DatasetResult): DatasetResult {
    const p = this.pick(v, hit);
    if (p === null) {
      this.counters.add(v.config.name, 'unavailable');
      throw new MaltError('STORE_UNAVAILABLE', `Redis is not answering (circuit breaker ${this.breaker.state}) and dataset ${v.config.name}'s fallback (${v.config.fallback.join(', ') || 'none'}) has no answer`);
    }
    this.counters.add(v.config.name, p.kind);
    return p.result;
  }

  /**
   * After a request's wait failed: keeps every cell that has its result, answers the others by
   * the fallbacks (cells still waiting on Redis included: the request does not wait past its
   * deadline), or throws STORE_UNAVAILABLE. Errors other than STORE_UNAVAILABLE are rethrown.
   * `outcomes`: each cell's result, its read's error, or null while its read is still pending.
   */
  recover(outcomes: readonly (DatasetResult | MaltError | null)[], versions: readonly ServedVersion[], err: unknown): DatasetResult[] {
    const first = toMaltError(err);
    if (first.code !== 'STORE_UNAVAILABLE') throw first;
    const out: DatasetResult[] = new Array(outcomes.length);
    const kinds: ('cached' | 'defaults' | null)[] = new Array(outcomes.length).fill(null);
    let unanswered: { dataset: string; error: MaltError }[] | null = null;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i] ?? null;
      if (o !== null && !(o instanceof MaltError)) {
        out[i] = o;
        continue;
      }
      const e = o === null ? first : o;
      if (e.code !== 'STORE_UNAVAILABLE') throw e;
      const v = versions[i % versions.length]!;
      const p = this.pick(v, undefined);
      if (p === null) (unanswered ??= []).push({ dataset: v.config.name, error: e });
      else {
        out[i] = p.result;
        kinds[i] = p.kind;
      }
    }
    // Counted once the request's outcome is known: a failed request served nothing degraded.
    if (unanswered !== null) {
      for (const u of unanswered) this.counters.add(u.dataset, 'unavailable');
      throw unanswered[0]!.error;
    }
    for (let i = 0; i < kinds.length; i++) {
      const k = kinds[i];
      if (k) this.counters.add(versions[i % versions.length]!.config.name, k);
    }
    return out;
  }

  /** Counts the results of stale versions a request is served (n entities each). */
  countStale(versions: readonly ServedVersion[], n: number): void {
    for (const v of versions) if (v.stale) this.counters.add(v.config.name, 'stale', n);
  }

  /** The first of the dataset's fallbacks that has an answer; `hit` is its cached result, if any. */
  private pick(v: ServedVersion, hit: DatasetResult | undefined): { result: DatasetResult; kind: 'cached' | 'defaults' } | null {
    for (const f of v.config.fallback) {
      if (f === 'cached' && hit !== undefined) return { result: this.marked(hit), kind: 'cached' };
      if (f === 'defaults') {
        const d = this.defaults(v);
        if (d !== null) return { result: d, kind: 'defaults' };
      }
    }
    return null;
  }

  private marked(hit: DatasetResult): DatasetResult {
    let m = this.markedCache.get(hit);
    if (m === undefined) {
      m = markDegraded(hit, 'CACHED');
      this.markedCache.set(hit, m);
    }
    return m;
  }

  /** The version's defaults result (the same for every entity), or null when no column has a default. */
  private defaults(v: ServedVersion): DatasetResult | null {
    let d = this.defaultsOf.get(v);
    if (d !== undefined) return d;
    d = null;
    if (v.defaults.some((x) => x !== null)) {
      const features: Feature[] = v.columns.map((col, c) => {
        const def = v.defaults[c] ?? null;
        return def !== null
          ? { name: col.name, type: col.type, value: def, status: 'DEFAULTED' }
          : { name: col.name, type: col.type, value: null, status: 'UNAVAILABLE' };
      });
      d = markDegraded(DatasetResult.build(v.config.name, v.versionString, false, features, v.config.kind === 'segments' ? [] : null), 'DEFAULTS');
    }
    this.defaultsOf.set(v, d);
    return d;
  }
}
