/**
 * Segment enter/exit events of a batch load (docs/updates.md#segment-enterexit-events): which
 * writer a segments load uses, and the events appended once the new version is published.
 */
import type { Redis } from 'ioredis';
import type { DatasetConfig } from '../config.js';
import { parseTimestampMicros } from '../column-types.js';
import type { KeyLayout } from '../keys.js';
import type { VersionManifest } from '../model/version-manifest.js';
import { OverlayStore } from '../store/overlay-store.js';
import { SegmentDiffWriter } from '../store/segment-diff-writer.js';
import { type SegmentEvent, appendSegmentEvents } from '../store/segment-events-stream.js';
import { readMemberships } from '../store/segment-membership.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { mergeSegments } from '../updates/overlay-merge.js';
import { SnapshotWriter, type WriterOptions } from '../store/snapshot-writer.js';

/** What a load appended to the events stream (LoadReport.segmentEvents). */
export interface LoadSegmentEvents {
  readonly stream: string;
  readonly enters: number;
  readonly exits: number;
  /** Events past segment_events_maxlen, not appended. */
  readonly dropped: number;
  /** Set when the events could not be appended (the version stays published). */
  readonly error?: string;
}

/**
 * The writer of a load: a SegmentDiffWriter when the dataset has a segment_events_stream and a
 * previous version to compare with (the first version of a dataset has no change to report),
 * else the plain SnapshotWriter.
 */
export function writerFor(redis: Redis, keys: KeyLayout, dataset: DatasetConfig, version: number, buckets: number, options: WriterOptions, previous: VersionManifest | null): SnapshotWriter {
  const ev = dataset.segmentEvents;
  if (dataset.kind !== 'segments' || ev === null || previous === null || previous.kind !== 'segments' || previous.buckets === 0) {
    return new SnapshotWriter(redis, keys, dataset.name, version, buckets, options);
  }
  return new SegmentDiffWriter(redis, keys, dataset.name, version, buckets, options, {
    previous: { bucketPrefix: keys.bucketPrefix(dataset.name, previous.id), buckets: previous.buckets },
    previousVersion: previous.id,
    maxEvents: ev.maxlen,
  });
}

/**
 * After publish: diffs the new version against the previous one and appends the events. Never
 * throws: the version is already published, so a failure is reported, not undone.
 */
export async function appendLoadEvents(redis: Redis, dataset: DatasetConfig, writer: SnapshotWriter, version: number, duplicates: number): Promise<LoadSegmentEvents | null> {
  if (!(writer instanceof SegmentDiffWriter) || dataset.segmentEvents === null) return null;
  const { stream, maxlen } = dataset.segmentEvents;
  try {
    const at = new Date().toISOString();
    const diff = await writer.events(version, at, duplicates > 0);
    const events = dataset.updates.enabled ? await servedDiff(redis, writer, version, at, diff.events) : diff.events;
    await appendSegmentEvents(redis, stream, maxlen, events);
    const enters = events.filter((e) => e.change === 'enter').length;
    return { stream, enters, exits: events.length - enters, dropped: diff.dropped };
  } catch (err) {
    return { stream, enters: 0, exits: 0, dropped: 0, error: (err as Error).message };
  }
}

/**
 * With updates on, what a read serves is batch ⊕ overlay, and the overlay's entries count
 * against each version's own as-of time: a player with updates newer than the older of the two
 * as-of times can change (or not) differently from its batch rows. For those players only (the
 * overlay index, bounded by updates.retention), the events are recomputed from the served
 * memberships before and after; the others keep their batch diff.
 */
async function servedDiff(redis: Redis, writer: SegmentDiffWriter, version: number, at: string, events: readonly SegmentEvent[]): Promise<SegmentEvent[]> {
  const snapshots = new SnapshotStore(redis, writer.keys);
  const [prev, next] = await Promise.all([snapshots.manifest(writer.dataset, writer.diff.previousVersion), snapshots.manifest(writer.dataset, version)]);
  if (!prev || !next) return [...events];
  const asOf = (m: VersionManifest): bigint => parseTimestampMicros(m.sourceAsOf ?? m.loadedAt) ?? 0n;
  const [prevAsOf, nextAsOf] = [asOf(prev), asOf(next)];
  const overlays = new OverlayStore(redis, writer.keys);
  const since = Number((prevAsOf < nextAsOf ? prevAsOf : nextAsOf) / 1000n);
  const ids = await overlays.entitiesUpdatedSince(writer.dataset, since);
  if (ids.length === 0) return [...events];
  const recomputed = new Set<string>();
  const out: SegmentEvent[] = [];
  const v = String(version);
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const [before, after, ov] = await Promise.all([
      readMemberships(redis, writer.diff.previous, chunk), readMemberships(redis, writer.current, chunk), overlays.readMany(writer.dataset, chunk),
    ]);
    for (const id of chunk) {
      const o = ov.get(id);
      if (!o) continue;
      recomputed.add(id);
      const was = new Set(mergeSegments(before.get(id) ?? [], o, prevAsOf).segments);
      const now = new Set(mergeSegments(after.get(id) ?? [], o, nextAsOf).segments);
      for (const s of now) if (!was.has(s)) out.push({ entityId: id, segment: s, change: 'enter', version: v, at });
      for (const s of was) if (!now.has(s)) out.push({ entityId: id, segment: s, change: 'exit', version: v, at });
    }
  }
  return [...events.filter((e) => !recomputed.has(e.entityId)), ...out];
}
