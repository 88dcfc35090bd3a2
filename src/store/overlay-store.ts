/**
 * The update overlay (docs/updates.md): per dataset and entity, the updates pushed since the
 * batch, keyed by column NAME (so they survive a reload that reorders or changes columns), each
 * with its event time. Versions stay immutable; reads merge base ⊕ overlay (mergeOverlay in
 * serving/lookup.ts) by comparing each entry's event time with the served version's as-of time.
 * Writes go through lua/apply-overlay.lua (last-write-wins per field, atomic per entity); every
 * data-key command goes through command-batch.ts.
 */
import type { Redis } from 'ioredis';
import type { ColumnType } from '../column-types.js';
import type { KeyLayout } from '../keys.js';
import { type DataCommand, runBatch } from './command-batch.js';

/** One LWW entry to write: `field` is c:<column>, d (row tombstone) or s:<segment>. */
export interface OverlayEntry {
  readonly field: string;
  /** Event time, µs since the epoch (0 ≤ t < 2^53). */
  readonly at: bigint;
  /** Tie-break for equal event times: the greater wins (deterministic, order-independent). */
  readonly tie: number;
  readonly payload: string;
}

/** What became of one entry in apply-overlay.lua: it won (was written) or not, and what it replaced. */
export interface EntryOutcome {
  readonly won: boolean;
  /** The stored field value before the script ("<event µs> <tie> <payload>"), null when none. */
  readonly previous: string | null;
}

/** An entity's overlay as read back, by column name and segment. */
export interface EntityOverlay {
  /** Event time of the newest row delete, or null. */
  readonly deletedAt: bigint | null;
  readonly columns: ReadonlyMap<string, { readonly at: bigint; readonly type: string; readonly json: string }>;
  readonly segments: ReadonlyMap<string, { readonly at: bigint; readonly add: boolean }>;
}

export const ROW_TOMBSTONE_FIELD = 'd';
export const columnField = (column: string): string => `c:${column}`;
export const segmentField = (segment: string): string => `s:${segment}`;

/** Payload of a column upsert: "<type>:<json of the value>" (timestamps as µs strings). */
export function columnPayload(type: ColumnType, json: string): string {
  return `${type}:${json}`;
}

/** 32-bit FNV-1a of a payload: the tie rule for two upserts of one column at the same event time. */
export function payloadTie(payload: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < payload.length; i++) {
    h ^= payload.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Parses an overlay hash (HGETALL reply); null when it is empty (no updates for the entity). */
export function parseOverlay(fields: Readonly<Record<string, string>> | null | undefined): EntityOverlay | null {
  if (!fields) return null;
  let deletedAt: bigint | null = null;
  let columns: Map<string, { at: bigint; type: string; json: string }> | null = null;
  let segments: Map<string, { at: bigint; add: boolean }> | null = null;
  let parsed = false;
  for (const field in fields) {
    const value = fields[field] as string;
    const s1 = value.indexOf(' ');
    const s2 = value.indexOf(' ', s1 + 1);
    if (s1 <= 0 || s2 < 0) continue;
    const at = BigInt(value.slice(0, s1));
    const payload = value.slice(s2 + 1);
    parsed = true;
    if (field === ROW_TOMBSTONE_FIELD) deletedAt = at;
    else if (field.startsWith('c:')) {
      const colon = payload.indexOf(':');
      (columns ??= new Map()).set(field.slice(2), { at, type: payload.slice(0, colon), json: payload.slice(colon + 1) });
    } else if (field.startsWith('s:')) (segments ??= new Map()).set(field.slice(2), { at, add: payload === 'a' });
  }
  return parsed ? { deletedAt, columns: columns ?? EMPTY, segments: segments ?? EMPTY } : null;
}

/** One shared empty map for every value type (a map of `never` is assignable to a map of any V). */
const EMPTY: ReadonlyMap<string, never> = new Map<string, never>();

export class OverlayStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyLayout,
  ) {}

  /** The command that reads one entity's overlay; queue it in the same batch as the base row. */
  readCommand(dataset: string, entityId: string): DataCommand {
    return { op: 'hgetall', key: this.keys.overlay(dataset, entityId) };
  }

  /**
   * Applies each entity's entries atomically (one script call per entity, all in one batch),
   * then records the entities' newest event times in the dataset's index. Answers the number
   * of entries that won. A lost connection midway leaves some entities applied: pushing the
   * same batch again converges to the same state (LWW is idempotent).
   */
  async apply(dataset: string, perEntity: ReadonlyMap<string, readonly OverlayEntry[]>, retentionMs: number): Promise<number> {
    let won = 0;
    for (const outcomes of (await this.applyTracked(dataset, perEntity, retentionMs)).values()) for (const o of outcomes) if (o.won) won++;
    return won;
  }

  /**
   * apply(), answering per entity and entry (in the order given) whether it won and the stored
   * value it replaced (null: none), read in the same atomic script call: the transition segment
   * events are derived from (updates/segment-events.ts), exact under concurrent writers.
   */
  async applyTracked(dataset: string, perEntity: ReadonlyMap<string, readonly OverlayEntry[]>, retentionMs: number): Promise<Map<string, EntryOutcome[]>> {
    const commands: DataCommand[] = [];
    const index: (string | number)[] = [];
    for (const [id, entries] of perEntity) {
      let newest = 0n;
      const args: string[] = [''];
      for (const e of entries) {
        if (e.at > newest) newest = e.at;
        args.push(e.field, String(e.at), String(e.tie), e.payload);
      }
      const newestMs = Number(newest / 1000n);
      args[0] = String(newestMs + retentionMs);
      commands.push({ op: 'script', key: this.keys.overlay(dataset, id), script: 'maltApplyOverlay', args });
      index.push(newestMs, id);
    }
    const outcomes = await runBatch(this.redis, commands);
    const out = new Map<string, EntryOutcome[]>();
    let i = 0;
    for (const id of perEntity.keys()) {
      const [err, reply] = outcomes[i++] as [Error | null, unknown];
      if (err) throw err;
      const r = reply as (number | string)[];
      const list: EntryOutcome[] = [];
      for (let k = 1; k + 1 < r.length; k += 2) list.push({ won: Number(r[k]) === 1, previous: r[k + 1] === '' ? null : String(r[k + 1]) });
      out.set(id, list);
    }
    if (index.length > 0) await this.redis.zadd(this.keys.overlayIndex(dataset), 'GT', ...index);
    return out;
  }

  /**
   * Removes entries with an event time at or before `cutoffMicros` (every kept version is newer,
   * so none of them can be served again) and entities whose overlay became empty from the index.
   * Answers how many entities were reclaimed.
   */
  async reclaim(dataset: string, cutoffMicros: bigint): Promise<number> {
    const indexKey = this.keys.overlayIndex(dataset);
    const cutoffMs = Number(cutoffMicros / 1000n);
    const ids = await this.redis.zrangebyscore(indexKey, '-inf', cutoffMs);
    if (ids.length === 0) return 0;
    const outcomes = await runBatch(this.redis, ids.map((id): DataCommand => ({ op: 'script', key: this.keys.overlay(dataset, id), script: 'maltReclaimOverlay', args: [String(cutoffMicros)] })));
    const gone = ids.filter((_, i) => outcomes[i]?.[0] === null && Number(outcomes[i]?.[1]) === 0);
    if (gone.length > 0) await this.redis.zrem(indexKey, ...gone);
    return gone.length;
  }

  /** The overlays of `ids` in one batch (null: none), for the segment events of a load. */
  async readMany(dataset: string, ids: readonly string[]): Promise<Map<string, EntityOverlay | null>> {
    const outcomes = await runBatch(this.redis, ids.map((id) => this.readCommand(dataset, id)));
    const out = new Map<string, EntityOverlay | null>();
    ids.forEach((id, i) => {
      const [err, fields] = outcomes[i]!;
      if (err) throw err;
      out.set(id, parseOverlay(fields as Record<string, string>));
    });
    return out;
  }

  /** Entities whose newest update is at or after `sinceMs` (the index), for the segment events of a load. */
  async entitiesUpdatedSince(dataset: string, sinceMs: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.overlayIndex(dataset), sinceMs, '+inf');
  }

  /** Entities with retained updates, and the oldest newest-event time among them (ms), for reports. */
  async stats(dataset: string): Promise<{ entities: number; oldestMs: number | null }> {
    const key = this.keys.overlayIndex(dataset);
    const [entities, oldest] = await Promise.all([this.redis.zcard(key), this.redis.zrange(key, '0', '0', 'WITHSCORES')]);
    return { entities, oldestMs: oldest.length >= 2 ? Number(oldest[1]) : null };
  }
}
