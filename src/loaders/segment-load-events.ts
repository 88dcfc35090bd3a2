/**
 * Segment enter/exit events of a batch load (docs/updates.md#segment-enterexit-events): which
 * writer a segments load uses, and the events appended once the new version is published.
 */
import type { Redis } from 'ioredis';
import type { DatasetConfig } from '../config.js';
import type { KeyLayout } from '../keys.js';
import type { VersionManifest } from '../model/version-manifest.js';
import { SegmentDiffWriter } from '../store/segment-diff-writer.js';
import { appendSegmentEvents } from '../store/segment-events-stream.js';
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
    const diff = await writer.events(version, new Date().toISOString(), duplicates > 0);
    await appendSegmentEvents(redis, stream, maxlen, diff.events);
    return { stream, enters: diff.enters, exits: diff.exits, dropped: diff.dropped };
  } catch (err) {
    return { stream, enters: 0, exits: 0, dropped: 0, error: (err as Error).message };
  }
}
