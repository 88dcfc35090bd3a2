/**
 * Appends segment enter/exit events to a dataset's `segment_events_stream` (docs/updates.md):
 * one XADD per event with fields entity_id, segment, change (enter | exit), version, at, trimmed
 * with `MAXLEN ~ maxlen` so the stream stays bounded. The stream key is used as configured (no
 * key prefix: live-ops tools own it). Pipelined, 1000 entries a round trip.
 */
import type { Redis } from 'ioredis';

export interface SegmentEvent {
  readonly entityId: string;
  readonly segment: string;
  readonly change: 'enter' | 'exit';
  /** The version the membership is served from after the change ('' when none is published). */
  readonly version: string;
  /** RFC 3339: the update's event time, or the time the loaded version was published. */
  readonly at: string;
}

const PER_ROUND = 1000;

export async function appendSegmentEvents(redis: Redis, stream: string, maxlen: number, events: readonly SegmentEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += PER_ROUND) {
    // One key: on a Cluster every command of this pipeline is in the stream's slot.
    const p = redis.pipeline();
    for (const e of events.slice(i, i + PER_ROUND)) {
      p.xadd(stream, 'MAXLEN', '~', maxlen, '*', 'entity_id', e.entityId, 'segment', e.segment, 'change', e.change, 'version', e.version, 'at', e.at);
    }
    const results = (await p.exec()) ?? [];
    const failed = results.find(([err]) => err !== null);
    if (failed) throw failed[0] as Error;
  }
}
