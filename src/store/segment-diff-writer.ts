/**
 * The snapshot writer of a segments load whose dataset has a `segment_events_stream`: it writes
 * the new version exactly as SnapshotWriter does and, beside each batch, reads the previous
 * version's memberships of the batch's entities (one HGET each, sent at once with the write, not
 * after it), so the entering side is diffed while writing, without a second pass over the lake.
 *
 * After the load (events()):
 * - enters: (entity, segment) pairs written that the previous version did not have. A wide
 *   source with a repeated entity (the later row wins) is re-checked against what was stored,
 *   for the candidate entities only;
 * - exits: pairs of the previous version the new one lacks, including every pair of entities
 *   absent from the new version. Which entities are absent is only known at the end, and the
 *   previous version keeps no per-segment member sets, so this is one scan of the previous
 *   version in Redis (HGETALL of each of its buckets, 64 at a time) plus one HGET per previous
 *   entity on the new version: O(previous entities) Redis reads, bounded memory, no lake data
 *   read again (docs/updates.md#segment-enterexit-events).
 * Events held are bounded by `maxEvents` (the stream's MAXLEN: a stream trimmed to N keeps no
 * more anyway); past it they are counted as dropped.
 */
import type { Redis } from 'ioredis';
import type { KeyLayout } from '../keys.js';
import type { SegmentEvent } from './segment-events-stream.js';
import { type MembershipVersion, readMemberships, scanMemberships } from './segment-membership.js';
import { SnapshotWriter, type WriterOptions } from './snapshot-writer.js';

/** Previous-membership reads outstanding at once (each is one batch's entities). */
const READS_IN_FLIGHT = 4;

export interface SegmentDiffOptions {
  /** The version served before this load (its buckets), which the new one is compared with. */
  readonly previous: MembershipVersion;
  /** Its version id. */
  readonly previousVersion: number;
  /** Most events held (segment_events_maxlen). */
  readonly maxEvents: number;
}

export interface SegmentDiff {
  readonly events: SegmentEvent[];
  readonly enters: number;
  readonly exits: number;
  /** Events past maxEvents, not appended. */
  readonly dropped: number;
}

export class SegmentDiffWriter extends SnapshotWriter {
  /** Candidate enters: entity → segments it has in a written row and lacked in the previous version. */
  private readonly candidates = new Map<string, Set<string>>();
  private candidateCount = 0;
  private droppedCandidates = 0;
  private readonly reads = new Set<Promise<void>>();
  private readFailure: Error | null = null;
  /** Where the new version's memberships are (the previous one's: diff.previous). */
  readonly current: MembershipVersion;

  constructor(
    private readonly client: Redis,
    readonly keys: KeyLayout,
    readonly dataset: string,
    version: number,
    buckets: number,
    options: WriterOptions,
    readonly diff: SegmentDiffOptions,
  ) {
    super(client, keys, dataset, version, buckets, options);
    this.current = { bucketPrefix: keys.bucketPrefix(dataset, version), buckets };
  }

  override async writeValues(rows: readonly (readonly [string, string | Buffer])[]): Promise<void> {
    await this.observe(rows.map(([id, json]) => [id, JSON.parse(String(json)) as string[]] as const));
    return super.writeValues(rows);
  }

  override async writeSegmentPairs(pairs: readonly (readonly [string, string])[]): Promise<void> {
    await this.observe(pairs.map(([id, segment]) => [id, [segment]] as const));
    return super.writeSegmentPairs(pairs);
  }

  /** Starts the previous-membership read of a batch; waits only while READS_IN_FLIGHT reads are out. */
  private async observe(rows: readonly (readonly [string, readonly string[]])[]): Promise<void> {
    if (this.readFailure) throw this.readFailure;
    while (this.reads.size >= READS_IN_FLIGHT) await Promise.race(this.reads);
    const ids = [...new Set(rows.map(([id]) => id))];
    const p: Promise<void> = readMemberships(this.client, this.diff.previous, ids)
      .then((prev) => this.collect(rows, prev))
      .catch((err: Error) => { this.readFailure ??= err; })
      .finally(() => this.reads.delete(p));
    this.reads.add(p);
  }

  private collect(rows: readonly (readonly [string, readonly string[]])[], prev: ReadonlyMap<string, string[]>): void {
    for (const [id, segments] of rows) {
      const had = prev.get(id) ?? [];
      let set = this.candidates.get(id);
      for (const s of segments) {
        if (had.includes(s) || set?.has(s)) continue;
        if (this.candidateCount >= this.diff.maxEvents) { this.droppedCandidates++; continue; }
        if (!set) this.candidates.set(id, (set = new Set()));
        set.add(s);
        this.candidateCount++;
      }
    }
  }

  /**
   * After finish(): the enter and exit events of the load, for `version` at time `at`. Call it
   * once the new version is complete (its rows are what the events are checked against).
   * `rowsRepeated`: the load wrote some entity twice (the writer's duplicates), so a wide row's
   * candidates are checked against the stored (later) row.
   */
  async events(version: number, at: string, rowsRepeated: boolean): Promise<SegmentDiff> {
    await Promise.all(this.reads);
    if (this.readFailure) throw this.readFailure;
    const v = String(version);
    const events: SegmentEvent[] = [];
    let dropped = this.droppedCandidates;
    let enters = 0;
    // A repeated entity: the stored row (the later one) decides.
    const stored = rowsRepeated ? await readMemberships(this.client, this.current, [...this.candidates.keys()]) : null;
    for (const [id, segments] of this.candidates) {
      const now = stored?.get(id);
      for (const s of segments) {
        if (now && !now.includes(s)) continue;
        events.push({ entityId: id, segment: s, change: 'enter', version: v, at });
        enters++;
      }
    }
    let exits = 0;
    for await (const round of scanMemberships(this.client, this.diff.previous)) {
      const now = await readMemberships(this.client, this.current, round.map(([id]) => id));
      for (const [id, had] of round) {
        const has = now.get(id) ?? [];
        for (const s of had) {
          if (has.includes(s)) continue;
          if (events.length >= this.diff.maxEvents) { dropped++; continue; }
          events.push({ entityId: id, segment: s, change: 'exit', version: v, at });
          exits++;
        }
      }
    }
    return { events, enters, exits, dropped };
  }
}
