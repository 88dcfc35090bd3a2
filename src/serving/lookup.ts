/**
 * The read path, shared by both transports: validate → dedupe → cache → one pipelined Redis
 * round trip for the misses (store/snapshot-reader.ts) → assemble. Bounded by the request
 * deadline: if Redis does not answer in time the request fails with STORE_UNAVAILABLE instead of
 * hanging.
 */
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import { entityIdProblem } from '../entity-id.js';
import { MaltError, toMaltError } from '../errors.js';
import { withDeadline } from './deadline.js';
import { decodeSegments } from '../row-codec.js';
import type { ResultCache } from '../cache/result-cache.js';
import { type RowsRead, SnapshotReader } from '../store/snapshot-reader.js';
import type { EntityOverlay } from '../store/overlay-store.js';
import { mergeFeatures, mergeSegments } from '../updates/overlay-merge.js';
import { DatasetResult, type Feature } from './dataset-result.js';
import type { ServedVersion, VersionTracker } from './version-tracker.js';
import type { RowDecoder } from '../row-codec.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { DegradedCounters } from './degraded-counters.js';
import { DegradedReads } from './degraded-results.js';
import type { Degraded } from '../model/types.js';
import type { DatasetResult as ModelResult } from '../model/dataset-result.js';

export interface EntityResult {
  readonly entityId: string;
  readonly datasets: readonly DatasetResult[];
}

export class Lookup {
  private readonly featureDatasets: readonly string[];
  private readonly resolved = new Map<string, { generation: number; versions: readonly ServedVersion[] }>();
  /** Keys requested from Redis and not yet answered. */
  private pendingReads = 0;
  private readonly reader: SnapshotReader;
  /** Fallbacks when Redis cannot be read in time, and their counts (docs/degraded-modes.md). */
  readonly degraded: DegradedReads;
  /** Stops reads piling up on a dead or stalled Redis (circuit-breaker.ts). */
  readonly breaker: CircuitBreaker;

  constructor(
    redis: Redis,
    private readonly tracker: VersionTracker,
    readonly cache: ResultCache,
    private readonly config: MaltConfig,
    breaker = new CircuitBreaker({ failures: config.serving.breakerFailures, openMs: config.serving.breakerOpenMs }),
  ) {
    this.reader = new SnapshotReader(redis);
    this.breaker = breaker;
    this.degraded = new DegradedReads(breaker, new DegradedCounters());
    this.featureDatasets = config.datasets.filter((d) => d.kind === 'features').map((d) => d.name);
    tracker.onEntityUpdates((dataset, ids) => this.invalidate(dataset, ids));
  }

  /**
   * Forgets this replica's cached results of `ids` in `dataset` (null: all of the dataset's), and
   * any read of them under way (docs/updates.md). Called for every entity-update message.
   */
  invalidate(dataset: string, ids: readonly string[] | null): void {
    const v = this.tracker.get(dataset);
    if (!v) return;
    if (ids === null) this.cache.invalidatePrefix(v.cachePrefix);
    else for (const id of ids) this.cache.invalidate(v.cachePrefix + id);
  }

  /** Resolves dataset names (empty = every features dataset) to their served versions. */
  resolve(names: readonly string[]): readonly ServedVersion[] {
    // Memoised per dataset list until a served version changes (the same few lists recur).
    const memoKey = JSON.stringify(names); // unambiguous: [] vs [""], ["a,b"] vs ["a","b"]
    const memo = this.resolved.get(memoKey);
    if (memo && memo.generation === this.tracker.generation) return memo.versions;
    const versions = this.resolveNow(names);
    if (this.resolved.size >= 256) this.resolved.clear();
    this.resolved.set(memoKey, { generation: this.tracker.generation, versions });
    return versions;
  }

  private resolveNow(names: readonly string[]): ServedVersion[] {
    const wanted = names.length === 0 ? this.featureDatasets : [...new Set(names)];
    const out: ServedVersion[] = [];
    for (const name of wanted) {
      if (typeof name !== 'string' || !this.config.datasets.some((d) => d.name === name)) {
        throw new MaltError('DATASET_NOT_FOUND', `unknown dataset ${JSON.stringify(name)}`);
      }
      const v = this.tracker.get(name);
      if (!v) throw new MaltError('DATASET_NOT_LOADED', `dataset ${name} has no published version yet; run \`malt load ${name}\``);
      out.push(v);
    }
    return out;
  }

  validateIds(ids: readonly unknown[]): void {
    if (ids.length > this.config.serving.maxBatchSize) {
      throw new MaltError('BATCH_TOO_LARGE', `batch of ${ids.length} entity ids exceeds serving.max_batch_size (${this.config.serving.maxBatchSize})`);
    }
    for (const id of ids) {
      const problem = entityIdProblem(id);
      if (problem) throw new MaltError('INVALID_ENTITY_ID', `${problem}: ${JSON.stringify(String(id).slice(0, 64))}`);
    }
  }

  /** Looks up entities × datasets; results are in request order. `timeoutMs` bounds Redis work. */
  async get(entityIds: readonly string[], datasetNames: readonly string[], timeoutMs = this.config.serving.requestTimeoutMs): Promise<EntityResult[]> {
    this.validateIds(entityIds);
    const versions = this.resolve(datasetNames);
    if (entityIds.length === 0) return [];
    this.degraded.countStale(versions, entityIds.length);
    // Open or half-open: Redis is not answering, cache hits are served as the fallback says.
    const degraded = !this.breaker.closed;
    const cells: (DatasetResult | Promise<DatasetResult>)[] = new Array(entityIds.length * versions.length);
    let misses: { key: string; v: ServedVersion; id: string; index: number }[] | null = null;
    let waiting = false;
    let i = 0;
    for (const id of entityIds) {
      for (const v of versions) {
        const key = v.cachePrefix + id;
        const hit = this.cache.get(key) ?? this.cache.pending(key);
        if (hit !== undefined) {
          cells[i] = degraded && !(hit instanceof Promise) ? this.degraded.cachedHit(v, hit) : hit;
          if (hit instanceof Promise) waiting = true;
        } else {
          (misses ??= []).push({ key, v, id, index: i });
          waiting = true;
        }
        i++;
      }
    }
    if (misses) this.fetchMisses(misses, cells);
    // Every shared Redis read is already bounded by the server cap (readRaw); a second timer is
    // needed only when this caller's deadline is shorter (a gRPC client deadline).
    let resolved: readonly DatasetResult[];
    try {
      resolved = !waiting
        ? (cells as DatasetResult[])
        : timeoutMs < this.config.serving.requestTimeoutMs
          ? await withDeadline(Promise.all(cells), timeoutMs)
          : await Promise.all(cells);
    } catch (err) {
      // Redis down, slow or the breaker open: the datasets' fallbacks, else STORE_UNAVAILABLE.
      resolved = await this.degraded.recover(cells, versions, err);
    }
    const out: EntityResult[] = new Array(entityIds.length);
    for (let e = 0; e < entityIds.length; e++) {
      out[e] = { entityId: entityIds[e] as string, datasets: resolved.slice(e * versions.length, (e + 1) * versions.length) };
    }
    return out;
  }

  /** The segments of one entity in a segments dataset (empty and found=false when it has no row). */
  async segments(entityId: string, dataset: string, timeoutMs?: number): Promise<{ segments: readonly string[]; version: string; found: boolean; degraded: Degraded | null }> {
    if (!dataset) throw new MaltError('INVALID_ARGUMENT', 'dataset is required');
    const [v] = this.resolve([dataset]);
    if (v && v.config.kind !== 'segments') throw new MaltError('NOT_A_SEGMENTS_DATASET', `dataset ${dataset} is a features dataset; segments calls need a segments dataset`);
    const [r] = await this.get([entityId], [dataset], timeoutMs);
    const d = r!.datasets[0]!;
    return { segments: d.segments ?? [], version: d.version, found: d.found, degraded: (d as ModelResult).degraded ?? null };
  }

  /** Issues one pipeline for all misses; each miss's promise is shared with concurrent requests. */
  private fetchMisses(misses: { key: string; v: ServedVersion; id: string; index: number }[], cells: (DatasetResult | Promise<DatasetResult>)[]): void {
    // Dedupe within the request (the same entity twice in one batch).
    const unique = new Map<string, { v: ServedVersion; id: string }>();
    for (const m of misses) unique.set(m.key, m);
    const entries = [...unique.entries()];
    // The shared read is bounded by the server's cap, not by this caller's deadline: callers
    // that join it (single-flight) each wait under their own deadline in get().
    const raw = this.readRaw(entries.map(([, m]) => m));
    const perKey = new Map<string, Promise<DatasetResult>>();
    entries.forEach(([key, m], j) => {
      // Update-enabled datasets: a ticket, so an invalidation during the read keeps it out of the cache.
      const ticket = m.v.overlayPrefix === null ? 0 : this.cache.begin(key);
      const p = raw.then((read) => {
        const result = decodeResult(m.v, read.rows[j] ?? null, read.overlays?.[j] ?? null);
        if (ticket === 0) this.cache.offer(key, result);
        else this.cache.settle(key, ticket, result);
        return result;
      }, (err: unknown) => {
        if (ticket !== 0) this.cache.settle(key, ticket, null);
        throw err;
      });
      this.cache.track(key, p);
      perKey.set(key, p);
    });
    for (const m of misses) cells[m.index] = perKey.get(m.key) as Promise<DatasetResult>;
  }

  private readRaw(items: { v: ServedVersion; id: string }[]): Promise<RowsRead> {
    // Bound what may pile up behind a stalled Redis: past max_pending_reads, fail fast.
    const max = this.config.serving.maxPendingReads;
    if (!this.breaker.allow()) {
      return Promise.reject(new MaltError('STORE_UNAVAILABLE', `Redis is not answering: circuit breaker ${this.breaker.state} (serving.breaker_open_ms ${this.config.serving.breakerOpenMs})`));
    }
    if (this.pendingReads + items.length > max) {
      this.breaker.failure('max_pending_reads reached');
      return Promise.reject(new MaltError('STORE_UNAVAILABLE', `Redis is not keeping up: ${this.pendingReads} reads pending (serving.max_pending_reads ${max})`));
    }
    this.pendingReads += items.length;
    const work = this.reader.read(items);
    // Counted down when Redis answers or the connection fails, not at the deadline.
    const release = (): void => {
      this.pendingReads -= items.length;
    };
    work.then(release, release);
    const bounded = withDeadline(work, this.config.serving.requestTimeoutMs);
    bounded.then(() => this.breaker.success(), (err: unknown) => {
      const e = toMaltError(err);
      if (e.code === 'STORE_UNAVAILABLE') this.breaker.failure(e.message);
    });
    return bounded;
  }
}

/** Builds the typed result for one entity from its stored row (null = no row) and its update overlay. */
export function decodeResult(v: ServedVersion, raw: Buffer | null, overlay: EntityOverlay | null = null): DatasetResult {
  if (overlay !== null) return decodeMerged(v, raw, overlay);
  const features: Feature[] = new Array(v.columns.length);
  // Values of a snapshot older than max_age are served, marked STALE (docs/degraded-modes.md).
  const present = v.stale ? 'STALE' : 'PRESENT';
  if (v.config.kind === 'segments') {
    const segments = raw === null ? [] : decodeSegments(raw.toString('utf8'));
    const col = v.columns[0]!;
    features[0] = { name: col.name, type: col.type, value: raw === null ? null : segments, status: raw === null ? 'NOT_FOUND' : present };
    return DatasetResult.build(v.config.name, v.versionString, raw !== null, features, segments);
  }
  // JSON now, protobuf when gRPC first asks, decoded again from the same row (dataset-result.ts);
  // the row is kept as a flat latin1 copy, not the Buffer (a slice of ioredis's read buffer).
  const row = raw === null ? null : raw.toString('latin1');
  const again = (): Feature[] => rowFeatures(v, row === null ? null : Buffer.from(row, 'latin1'), new Array(v.columns.length), present);
  return DatasetResult.lazy(v.config.name, v.versionString, raw !== null, rowFeatures(v, raw, features, present), null, again, row === null ? 0 : row.length);
}

/** The features of a stored row of a features dataset (null = no row), into `features`. */
function rowFeatures(v: ServedVersion, raw: Buffer | null, features: Feature[], present: 'STALE' | 'PRESENT'): Feature[] {
  const values = raw === null ? null : (v.decoder as RowDecoder).decode(raw);
  for (let c = 0; c < v.columns.length; c++) {
    const col = v.columns[c]!;
    const value = values ? values[c] ?? null : null;
    const def = v.defaults[c] ?? null;
    if (value !== null) features[c] = { name: col.name, type: col.type, value, status: present };
    else if (def !== null) features[c] = { name: col.name, type: col.type, value: def, status: 'DEFAULTED' };
    else features[c] = { name: col.name, type: col.type, value: null, status: values ? 'NULL_VALUE' : 'NOT_FOUND' };
  }
  return features;
}

/** decodeResult for an entity with updates: base ⊕ overlay (updates/overlay-merge.ts). */
function decodeMerged(v: ServedVersion, raw: Buffer | null, overlay: EntityOverlay): DatasetResult {
  const features: Feature[] = new Array(v.columns.length);
  if (v.config.kind === 'segments') {
    const m = mergeSegments(raw === null ? null : decodeSegments(raw.toString('utf8')), overlay, v.asOfMicros);
    const col = v.columns[0]!;
    features[0] = { name: col.name, type: col.type, value: m.found ? m.segments : null, status: m.found ? (v.stale && !m.updated ? 'STALE' : 'PRESENT') : 'NOT_FOUND', updated: m.updated };
    return DatasetResult.build(v.config.name, v.versionString, m.found, features, m.segments);
  }
  const base = raw === null ? null : (v.decoder as RowDecoder).decode(raw);
  const m = mergeFeatures(v.columns, base, overlay, v.asOfMicros);
  for (let c = 0; c < v.columns.length; c++) {
    const col = v.columns[c]!;
    const value = m.values[c] ?? null;
    const updated = m.updated[c] === true;
    const def = v.defaults[c] ?? null;
    if (value !== null) features[c] = { name: col.name, type: col.type, value, status: v.stale && !updated ? 'STALE' : 'PRESENT', updated };
    else if (def !== null) features[c] = { name: col.name, type: col.type, value: def, status: 'DEFAULTED', updated };
    else features[c] = { name: col.name, type: col.type, value: null, status: m.found ? 'NULL_VALUE' : 'NOT_FOUND', updated };
  }
  return DatasetResult.build(v.config.name, v.versionString, m.found, features, null);
}
