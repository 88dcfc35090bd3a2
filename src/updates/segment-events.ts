/**
 * Segment enter/exit events of real-time updates (docs/updates.md#segment-enterexit-events).
 * An add or remove emits an event only when it changes the entity's effective membership: what
 * a read serves, batch ⊕ overlay, where an overlay entry counts only when its event time is after
 * the served version's as-of time (updates/overlay-merge.ts). The transition is taken from
 * apply-overlay.lua, which answers per entry whether it won and the entry it replaced, in the same
 * atomic call: a stale update (it lost last-write-wins) emits nothing, and two concurrent writers
 * of one (entity, segment) each see the other's entry, so every change is emitted once.
 */
import type { Redis } from 'ioredis';
import type { DatasetConfig } from '../config.js';
import type { KeyLayout } from '../keys.js';
import { type EntryOutcome, type OverlayEntry } from '../store/overlay-store.js';
import type { SegmentEvent } from '../store/segment-events-stream.js';
import { readMemberships } from '../store/segment-membership.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { parseTimestampMicros } from '../column-types.js';

/** The served version an update batch is compared against, and its entities' batch memberships. */
export interface MembershipContext {
  /** '' when no version is published (the batch membership is then empty). */
  readonly version: string;
  readonly asOfMicros: bigint;
  readonly base: ReadonlyMap<string, readonly string[]>;
}

/** RFC 3339 of µs since the epoch (3 or 6 fraction digits). */
export function rfc3339(us: bigint): string {
  const ms = us / 1000n;
  const iso = new Date(Number(ms)).toISOString();
  const extra = us - ms * 1000n;
  return extra === 0n ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
}

/** "<event µs> <tie> a|r" → the entry's time and op; null for no entry. */
function parseStored(v: string | null): { at: bigint; add: boolean } | null {
  if (v === null) return null;
  const s1 = v.indexOf(' ');
  const s2 = v.indexOf(' ', s1 + 1);
  return { at: BigInt(v.slice(0, s1)), add: v.slice(s2 + 1) === 'a' };
}

/** Whether the entity is in the segment as served: a newer-than-the-batch entry decides, else the batch. */
function effective(inBase: boolean, entry: { at: bigint; add: boolean } | null, asOf: bigint): boolean {
  return entry !== null && entry.at > asOf ? entry.add : inBase;
}

/** The events of one applied batch (pure): per entity, its segment entries in order, each that won and flipped the served membership. */
export function eventsOfUpdates(perEntity: ReadonlyMap<string, readonly OverlayEntry[]>, outcomes: ReadonlyMap<string, readonly EntryOutcome[]>, ctx: MembershipContext): SegmentEvent[] {
  const events: SegmentEvent[] = [];
  for (const [id, entries] of perEntity) {
    const results = outcomes.get(id) ?? [];
    const base = ctx.base.get(id) ?? [];
    entries.forEach((e, i) => {
      const r = results[i];
      if (!r?.won || !e.field.startsWith('s:')) return;
      const segment = e.field.slice(2);
      const inBase = base.includes(segment);
      const before = effective(inBase, parseStored(r.previous), ctx.asOfMicros);
      const after = effective(inBase, { at: e.at, add: e.payload === 'a' }, ctx.asOfMicros);
      if (before !== after) events.push({ entityId: id, segment, change: after ? 'enter' : 'exit', version: ctx.version, at: rfc3339(e.at) });
    });
  }
  return events;
}

/** Reads the served version of a segments dataset (manifests kept per version id) and its batch memberships of `ids`. */
export function membershipReader(redis: Redis, keys: KeyLayout): (d: DatasetConfig, ids: readonly string[]) => Promise<MembershipContext> {
  const snapshots = new SnapshotStore(redis, keys);
  const versions = new Map<number, { asOfMicros: bigint; buckets: number }>();
  return async (d, ids) => {
    const id = await snapshots.currentVersionId(d.name);
    if (id === null) return { version: '', asOfMicros: 0n, base: new Map() };
    let v = versions.get(id);
    if (!v) {
      const m = await snapshots.manifest(d.name, id);
      if (!m) return { version: '', asOfMicros: 0n, base: new Map() };
      v = { asOfMicros: parseTimestampMicros(m.sourceAsOf ?? m.loadedAt) ?? 0n, buckets: m.buckets };
      if (versions.size > 64) versions.clear();
      versions.set(id, v);
    }
    const base = v.buckets > 0 ? await readMemberships(redis, { bucketPrefix: keys.bucketPrefix(d.name, id), buckets: v.buckets }, ids) : new Map<string, string[]>();
    return { version: String(id), asOfMicros: v.asOfMicros, base };
  };
}
