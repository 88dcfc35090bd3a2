/**
 * The read path, shared by both transports: validate → dedupe → cache → one pipelined Redis
 * round trip for the misses (store/snapshot-reader.ts) → assemble. Bounded by the request
 * deadline: if Redis does not answer in time the request fails with STORE_UNAVAILABLE instead of
 * hanging. A request's misses are one flight (read-flight.ts) that concurrent requests join, all
 * flights' deadlines share one timer (deadline-queue.ts), and a request waits by callback
 * (pending-lookup.ts): no promise per key or per request on the HTTP path.
 */
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import { entityIdProblem } from '../entity-id.js';
import { MaltError, toMaltError } from '../errors.js';
import { DeadlineQueue } from './deadline-queue.js';
import { MissSlot, ReadFlight } from './read-flight.js';
import { type EntityResult, type LookupDone, PendingLookup, entityResults } from './pending-lookup.js';
import { rowJson } from './row-json.js';
import { decodeSegments } from '../row-codec.js';
import type { ResultCache } from '../cache/result-cache.js';
import { type ReadOutcomes, type RowsRead, SnapshotReader } from '../store/snapshot-reader.js';
import type { EntityOverlay } from '../store/overlay-store.js';
import { mergeFeatures, mergeSegments } from '../updates/overlay-merge.js';
import { DatasetResult, type Feature, type FeatureSource } from './dataset-result.js';
import type { ServedVersion, VersionTracker } from './version-tracker.js';
import type { RowDecoder } from '../row-codec.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { DegradedCounters } from './degraded-counters.js';
import { DegradedReads } from './degraded-results.js';
import type { Degraded } from '../model/types.js';
import type { DatasetResult as ModelResult } from '../model/dataset-result.js';

export type { EntityResult, LookupDone } from './pending-lookup.js';

export class Lookup {
  private readonly featureDatasets: readonly string[];
  private readonly resolved = new Map<string, { generation: number; versions: readonly ServedVersion[] }>();
  /** Keys requested from Redis and not yet answered. */
  private pendingReads = 0;
  /** The server cap on every Redis read (serving.request_timeout_ms), one timer for all. */
  private readonly deadlines: DeadlineQueue;
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
    this.deadlines = new DeadlineQueue(config.serving.requestTimeoutMs);
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
    const memoKey = names.length === 0 ? '[]' : JSON.stringify(names); // unambiguous: [] vs [""], ["a,b"] vs ["a","b"]
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
  get(entityIds: readonly string[], datasetNames: readonly string[], timeoutMs = this.config.serving.requestTimeoutMs): Promise<EntityResult[]> {
    return new Promise((resolve, reject) => {
      this.start(entityIds, datasetNames, (err, results) => (err === null ? resolve(results as EntityResult[]) : reject(err)), timeoutMs);
    });
  }

  /**
   * get() without a promise (the HTTP routes): `done` is called once, with null and the results
   * or with the error; synchronously when nothing waits on Redis (all hits, or a refusal), else
   * when the reads it waits on settle. `done` must not throw. `timeoutMs` (default
   * serving.request_timeout_ms) bounds the wait.
   */
  lookup(entityIds: readonly string[], datasetNames: readonly string[], done: LookupDone, timeoutMs = this.config.serving.requestTimeoutMs): void {
    this.start(entityIds, datasetNames, done, timeoutMs);
  }

  // get() and lookup() share this, not each other: tracing wraps each once (telemetry/lookup-tracing.ts).
  private start(entityIds: readonly string[], datasetNames: readonly string[], done: LookupDone, timeoutMs: number): void {
    let versions: readonly ServedVersion[];
    let cells: { cells: (DatasetResult | MissSlot)[]; flights: ReadFlight[] | null } | null = null;
    try {
      this.validateIds(entityIds);
      versions = this.resolve(datasetNames);
      if (entityIds.length > 0) {
        this.degraded.countStale(versions, entityIds.length);
        cells = this.cells(entityIds, versions);
      }
    } catch (err) {
      done(err, null);
      return;
    }
    // (done is called outside the try: it is called once, even if it throws)
    if (cells === null) done(null, []);
    else if (cells.flights === null) done(null, entityResults(entityIds, versions.length, cells.cells as DatasetResult[]));
    // The shared reads are bounded by the server cap (the deadline queue); a timer of its own
    // only when this caller's deadline is shorter (a gRPC client deadline).
    else new PendingLookup(this.degraded, entityIds, versions, cells.cells, done).wait(cells.flights, timeoutMs < this.config.serving.requestTimeoutMs ? timeoutMs : 0);
  }

  /**
   * Each entity × version's cached result, or the slot of the read it waits for: another
   * request's (single-flight) or this request's one flight for all its misses, sent here.
   */
  private cells(entityIds: readonly string[], versions: readonly ServedVersion[]): { cells: (DatasetResult | MissSlot)[]; flights: ReadFlight[] | null } {
    // Open or half-open: Redis is not answering, cache hits are served as the fallback says.
    const degraded = !this.breaker.closed;
    const cells: (DatasetResult | MissSlot)[] = new Array(entityIds.length * versions.length);
    let own: ReadFlight | null = null;
    let flights: ReadFlight[] | null = null;
    let i = 0;
    try {
      for (const id of entityIds) {
        for (const v of versions) {
          const key = v.cachePrefix + id;
          const hit = this.cache.get(key);
          if (hit !== undefined) {
            cells[i++] = degraded ? this.degraded.cachedHit(v, hit) : hit;
            continue;
          }
          // The cache holds only this module's slots (track() below).
          let slot = this.cache.peekPending(key) as MissSlot | undefined;
          if (slot === undefined) {
            own ??= new ReadFlight(this);
            // Update-enabled datasets: a ticket, so an invalidation during the read keeps it out of the cache.
            slot = own.add(key, v, id, v.overlayPrefix === null ? 0 : this.cache.begin(key));
            this.cache.track(slot);
          } else if (slot.flight !== own) this.cache.sharedMiss();
          // (the same key twice in one request joins the request's own flight: one read)
          const f = slot.flight;
          if (flights === null) flights = [f];
          else if (flights[flights.length - 1] !== f && !flights.includes(f)) flights.push(f);
          cells[i++] = slot;
        }
      }
    } catch (err) {
      // A fallback refused a cached hit: the misses tracked so far are never sent.
      if (own !== null) this.failFlight(own, toMaltError(err));
      throw err;
    }
    if (own !== null) this.send(own);
    return { cells, flights };
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

  /** Sends the flight's reads as one batch, unless the breaker or max_pending_reads refuses it. */
  private send(flight: ReadFlight): void {
    // Bound what may pile up behind a stalled Redis: past max_pending_reads, fail fast.
    const max = this.config.serving.maxPendingReads;
    const n = flight.slots.length;
    if (!this.breaker.allow()) {
      this.failFlight(flight, new MaltError('STORE_UNAVAILABLE', `Redis is not answering: circuit breaker ${this.breaker.state} (serving.breaker_open_ms ${this.config.serving.breakerOpenMs})`));
      return;
    }
    if (this.pendingReads + n > max) {
      this.breaker.failure('max_pending_reads reached');
      this.failFlight(flight, new MaltError('STORE_UNAVAILABLE', `Redis is not keeping up: ${this.pendingReads} reads pending (serving.max_pending_reads ${max})`));
      return;
    }
    // Counted down when Redis answers or the connection fails, not at the deadline.
    this.pendingReads += n;
    this.deadlines.add(flight);
    flight.sentAt = performance.now();
    this.reader.send(flight.slots).then((outcomes) => this.answered(flight, outcomes), (err: unknown) => this.answered(flight, null, err));
  }

  /** Redis answered the flight (outcomes) or the connection failed (err). */
  private answered(flight: ReadFlight, outcomes: ReadOutcomes | null, err?: unknown): void {
    this.pendingReads -= flight.slots.length;
    // Past its deadline the flight has failed already: a late answer is dropped, not cached.
    if (!flight.pending) return;
    this.deadlines.remove(flight);
    let read: RowsRead;
    try {
      if (outcomes === null) throw this.reader.failed(err);
      read = this.reader.rowsOf(flight.slots, outcomes, flight.sentAt);
    } catch (e) {
      const me = toMaltError(e);
      if (me.code === 'STORE_UNAVAILABLE') this.breaker.failure(me.message);
      this.failFlight(flight, me);
      return;
    }
    this.breaker.success();
    const { slots } = flight;
    const results: DatasetResult[] = new Array(slots.length);
    try {
      for (let j = 0; j < slots.length; j++) {
        const slot = slots[j]!;
        const result = decodeResult(slot.v, read.rows[j] ?? null, read.overlays?.[j] ?? null);
        if (slot.ticket === 0) this.cache.offer(slot.key, result);
        else this.cache.settle(slot.key, slot.ticket, result);
        this.cache.forget(slot);
        results[j] = result;
      }
    } catch (e) {
      this.failFlight(flight, toMaltError(e));
      return;
    }
    flight.succeed(results);
  }

  /** The shared deadline passed before Redis answered (deadline-queue.ts calls this through the flight). */
  expired(flight: ReadFlight): void {
    const err = new MaltError('STORE_UNAVAILABLE', `Redis did not answer within ${this.deadlines.durationMs} ms`);
    this.breaker.failure(err.message);
    this.failFlight(flight, err);
  }

  private failFlight(flight: ReadFlight, err: MaltError): void {
    for (const slot of flight.slots) {
      if (slot.ticket !== 0) this.cache.settle(slot.key, slot.ticket, null);
      this.cache.forget(slot);
    }
    flight.fail(err);
  }
}

/** Builds the typed result for one entity from its stored row (null = no row) and its update overlay. */
export function decodeResult(v: ServedVersion, raw: Buffer | null, overlay: EntityOverlay | null = null): DatasetResult {
  if (overlay !== null) return decodeMerged(v, raw, overlay);
  if (v.config.kind === 'segments') {
    const features: Feature[] = new Array(1);
    // Values of a snapshot older than max_age are served, marked STALE (docs/degraded-modes.md).
    const present = v.stale ? 'STALE' : 'PRESENT';
    const segments = raw === null ? [] : decodeSegments(raw.toString('utf8'));
    const col = v.columns[0]!;
    features[0] = { name: col.name, type: col.type, value: raw === null ? null : segments, status: raw === null ? 'NOT_FOUND' : present };
    return DatasetResult.build(v.config.name, v.versionString, raw !== null, features, segments);
  }
  // JSON now, straight from the decoded values (row-json.ts); the protobuf when gRPC first asks,
  // from features decoded again from the same row (dataset-result.ts), kept as a flat latin1
  // copy, not the Buffer (a slice of ioredis's read buffer).
  const json = rowJson(v, raw === null ? null : (v.decoder as RowDecoder).decode(raw));
  return DatasetResult.fromJson(v.config.name, v.versionString, raw !== null, json, null, new StoredRow(v, raw === null ? null : raw.toString('latin1')));
}

/** A stored row kept to render its result's protobuf on first use (FeatureSource). */
class StoredRow implements FeatureSource {
  readonly heldBytes: number;

  constructor(private readonly v: ServedVersion, private readonly row: string | null) {
    this.heldBytes = row === null ? 0 : row.length;
  }

  features(): Feature[] {
    const { v, row } = this;
    return rowFeatures(v, row === null ? null : Buffer.from(row, 'latin1'), new Array(v.columns.length), v.stale ? 'STALE' : 'PRESENT');
  }
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
