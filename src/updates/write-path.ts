/**
 * The one write path for real-time updates, shared by every way in (HTTP push, gRPC Push, the
 * stream consumer): validate every item against the dataset's kind and served columns, then
 * apply all of them or none (store/overlay-store.ts: one Lua call per entity, last-write-wins
 * by event time), then tell every replica which entities changed (pub/sub, per-entity cache
 * invalidation), then append the segment enter/exit events it caused (segment-events.ts).
 * Transports only translate their wire format into UpdateItem[] and map errors.
 */
import type { Redis } from 'ioredis';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { MaltError } from '../errors.js';
import { KeyLayout, entityEvent } from '../keys.js';
import type { ColumnSpec } from '../model/types.js';
import { type OverlayEntry, OverlayStore } from '../store/overlay-store.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { appendSegmentEvents } from '../store/segment-events-stream.js';
import { eventsOfUpdates, membershipReader } from './segment-events.js';
import { validateItem } from './update-validation.js';

/** One operation, transport-neutral; values as in responses (int64 as strings, timestamps RFC 3339). */
export interface UpdateItem {
  readonly entity_id: string;
  readonly op: 'upsert' | 'delete' | 'add' | 'remove';
  readonly values?: Readonly<Record<string, unknown>>;
  readonly segment?: string;
  /** RFC 3339; default: receive time. */
  readonly event_time?: string;
}

export interface ItemError {
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

/** A batch refused because of the listed items; nothing of it was applied. */
export class UpdateRejected extends MaltError {
  readonly items: readonly ItemError[];

  constructor(items: readonly ItemError[]) {
    super('UPDATE_INVALID', `${items.length} update(s) invalid; nothing applied`);
    this.name = 'UpdateRejected';
    this.items = items;
  }
}

export interface UpdateWritePath {
  /** Validates all items against the dataset's served columns/kind, then applies all or none. */
  apply(dataset: string, items: readonly UpdateItem[], receivedAt?: Date): Promise<{ applied: number }>;
}

export interface WritePathDeps {
  /** The served columns of a dataset (a replica's version tracker); else they are read from Redis. */
  readonly columnsOf?: (dataset: string) => readonly ColumnSpec[] | undefined;
  /** Called after a batch is applied, before the pub/sub notice (this replica's own cache). */
  readonly onApplied?: (dataset: string, ids: readonly string[]) => void;
}

/** Most entity ids in one invalidation message. */
const IDS_PER_EVENT = 500;

export function createUpdateWritePath(redis: Redis, config: MaltConfig, deps: WritePathDeps = {}): UpdateWritePath {
  const keys = new KeyLayout(config.redis.keyPrefix);
  const overlay = new OverlayStore(redis, keys);
  const snapshots = new SnapshotStore(redis, keys);
  const memberships = membershipReader(redis, keys);
  // Columns read from Redis (no tracker: malt consume), kept per dataset for a second.
  const fetched = new Map<string, { at: number; columns: readonly ColumnSpec[] }>();

  async function columnsFor(d: DatasetConfig): Promise<readonly ColumnSpec[]> {
    if (d.kind === 'segments') return [];
    const served = deps.columnsOf?.(d.name);
    if (served) return served;
    const hit = fetched.get(d.name);
    if (hit && Date.now() - hit.at < 1000) return hit.columns;
    const id = await snapshots.currentVersionId(d.name);
    const manifest = id === null ? null : await snapshots.manifest(d.name, id);
    const columns = manifest?.columns ?? d.columns;
    if (!columns) throw new MaltError('DATASET_NOT_LOADED', `dataset ${d.name} has no published version yet, so its columns are unknown; run \`malt load ${d.name}\``);
    fetched.set(d.name, { at: Date.now(), columns });
    return columns;
  }

  return {
    async apply(dataset, items, receivedAt = new Date()) {
      const d = config.datasets.find((x) => x.name === dataset);
      if (!d) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset ${JSON.stringify(dataset)}`);
      if (!d.updates.enabled) throw new MaltError('UPDATES_DISABLED', `dataset ${dataset} does not accept updates (updates.enabled is false)`);
      if (!Array.isArray(items)) throw new MaltError('INVALID_ARGUMENT', 'updates must be a list');
      if (items.length > d.updates.maxBatch) throw new MaltError('BATCH_TOO_LARGE', `batch of ${items.length} updates exceeds updates.max_batch (${d.updates.maxBatch}) of dataset ${dataset}`);
      if (items.length === 0) return { applied: 0 };
      const columns = await columnsFor(d);
      const byName = new Map(columns.map((c) => [c.name, c.type] as const));
      const nowMicros = BigInt(receivedAt.getTime()) * 1000n;
      const oldest = nowMicros - BigInt(d.updates.retentionMs) * 1000n;
      const errors: ItemError[] = [];
      const perEntity = new Map<string, OverlayEntry[]>();
      for (let index = 0; index < items.length; index++) {
        const outcome = validateItem(items[index], d.kind, byName, nowMicros, oldest);
        if ('code' in outcome) {
          errors.push({ index, ...outcome });
          continue;
        }
        let list = perEntity.get(outcome.entityId);
        if (!list) perEntity.set(outcome.entityId, (list = []));
        list.push(...outcome.entries);
      }
      if (errors.length > 0) throw new UpdateRejected(errors);
      const ids = [...perEntity.keys()];
      // Segment events: the served batch membership is read before, the transitions come from the apply itself.
      const membership = d.segmentEvents !== null && d.kind === 'segments' ? await memberships(d, ids) : null;
      const outcomes = await overlay.applyTracked(dataset, perEntity, d.updates.retentionMs);
      deps.onApplied?.(dataset, ids);
      for (let i = 0; i < ids.length; i += IDS_PER_EVENT) {
        await redis.publish(keys.events, entityEvent(dataset, ids.slice(i, i + IDS_PER_EVENT)));
      }
      if (membership && d.segmentEvents) await appendSegmentEvents(redis, d.segmentEvents.stream, d.segmentEvents.maxlen, eventsOfUpdates(perEntity, outcomes, membership));
      return { applied: items.length };
    },
  };
}

