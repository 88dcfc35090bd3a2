/**
 * The stream consumer behind `malt consume`: reads every consumed dataset's `updates_stream`
 * with one consumer group, applies the entries through the update write path, and acknowledges
 * an entry only once it is applied or dead-lettered (at-least-once delivery).
 *
 * Each round: (1) re-read this consumer's own pending entries when the last write failed (or on
 * start: a consumer restarted under the same name finds what it had in hand); (2) every
 * `claim_idle_ms`, and on start, XAUTOCLAIM entries other consumers left unacknowledged for that
 * long (a consumer that was killed); (3) XREADGROUP new entries (`>`), blocking up to `block_ms`.
 * stop() finishes the batch in hand, acknowledges it, and returns; a blocked read is woken with
 * CLIENT UNBLOCK. Library code: it never exits the process and installs no signal handler.
 */
import os from 'node:os';
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import { MaltError, toMaltError } from '../errors.js';
import { type Logger, silentLogger } from '../telemetry/logger.js';
import type { UpdateWritePath } from '../updates/write-path.js';
import { applyEntries } from './apply-entries.js';
import { deadLetterAndAck, type StreamRef } from './dead-letter.js';
import { parseEntry, type RawEntry } from './stream-entry.js';

export interface ConsumedStream extends StreamRef {
  readonly dataset: string;
}

export interface ConsumerStats {
  /** Entries applied through the write path and acknowledged. */
  applied: number;
  /** Entries sent to a dead-letter stream (and acknowledged), by reason code. */
  deadLettered: number;
  readonly deadByCode: Record<string, number>;
  /** Entries taken over from other consumers by XAUTOCLAIM. */
  claimed: number;
  /** Pending ids XAUTOCLAIM found deleted from the stream (trimmed before anyone applied them). */
  vanished: number;
  /** Write rounds that failed and will be retried (entries left pending). */
  retries: number;
}

export interface ConsumerOptions {
  /** Commands (XACK, XAUTOCLAIM, MULTI, CLIENT UNBLOCK). */
  readonly redis: Redis;
  /** A connection of its own for the blocking XREADGROUP. */
  readonly reader: Redis;
  readonly writePath: UpdateWritePath;
  readonly streams: readonly ConsumedStream[];
  readonly group: string;
  readonly consumer: string;
  readonly batchSize: number;
  readonly blockMs: number;
  readonly claimIdleMs: number;
  /** Default: none. */
  readonly logger?: Logger;
}

export interface ConsumerRun {
  readonly consumer: string;
  readonly stats: Readonly<ConsumerStats>;
  /** Resolves when the loop has ended (after stop()). */
  readonly finished: Promise<void>;
  /** Finishes the batch in hand, acknowledges it, ends the loop; idempotent. */
  stop(): Promise<void>;
}

/** The consumer's name when the config names none: `<hostname>-<pid>`. */
export function defaultConsumerName(): string {
  return `${os.hostname()}-${process.pid}`;
}

/**
 * The streams `malt consume` reads for `datasets` (default: every one with an `updates_stream`).
 * Throws CONFIG_INVALID when two datasets share a stream or one has updates disabled.
 */
export function consumedStreams(config: MaltConfig, datasets: readonly string[] = []): ConsumedStream[] {
  const chosen = config.datasets.filter((d) => d.updatesStream !== null && (datasets.length === 0 || datasets.includes(d.name)));
  const seen = new Map<string, string>();
  for (const d of chosen) {
    const other = seen.get(d.updatesStream as string);
    if (other !== undefined) throw new MaltError('CONFIG_INVALID', `datasets "${other}" and "${d.name}" have the same updates_stream "${d.updatesStream}"`);
    seen.set(d.updatesStream as string, d.name);
    if (!d.updates.enabled) throw new MaltError('CONFIG_INVALID', `dataset "${d.name}" has an updates_stream but does not accept updates: set updates.enabled: true`);
  }
  return chosen.map((d) => ({ dataset: d.name, stream: d.updatesStream as string, deadLetterStream: d.deadLetterStream as string, deadLetterMaxlen: d.deadLetterMaxlen, group: config.consume.group }));
}

type ReadReply = [stream: string, entries: RawEntry[]][] | null;

class StreamConsumer {
  readonly stats: ConsumerStats = { applied: 0, deadLettered: 0, deadByCode: {}, claimed: 0, vanished: 0, retries: 0 };
  private stopping = false;
  private readerId: number | null = null;
  private wake: (() => void) | null = null;
  private ownPendingDue = true;
  private nextClaimAt = 0;
  private failures = 0;
  /** When the current run of failed rounds began (Date.now()), for the logged state. */
  private failingSince = 0;
  private readonly byStream: Map<string, ConsumedStream>;
  private readonly logger: Logger;

  constructor(private readonly o: ConsumerOptions) {
    this.byStream = new Map(o.streams.map((s) => [s.stream, s]));
    this.logger = o.logger ?? silentLogger;
  }

  async init(): Promise<void> {
    for (const s of this.o.streams) {
      try {
        // From the start of the stream: entries written before the first consumer ran still count.
        await this.o.redis.xgroup('CREATE', s.stream, s.group, '0', 'MKSTREAM');
      } catch (err) {
        if (!/BUSYGROUP/.test((err as Error).message)) throw toMaltError(err);
      }
    }
    this.readerId = Number(await this.o.reader.client('ID'));
  }

  async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.ownPendingDue) await this.readOwnPending();
        if (!this.stopping && Date.now() >= this.nextClaimAt) await this.claimIdle();
        if (!this.stopping) await this.readNew();
        if (this.failures > 0) {
          this.logger.info(`consume: recovered after ${this.failures} failed round(s) over ${Date.now() - this.failingSince} ms; pending entries were re-read`, { failed_rounds: this.failures });
          this.failures = 0;
        }
      } catch (err) {
        await this.backOff(toMaltError(err));
      }
    }
  }

  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.wake?.();
    // Wake a blocked XREADGROUP as if it timed out; no entry it would have read is lost.
    if (this.readerId !== null) this.o.redis.client('UNBLOCK', this.readerId).catch(() => undefined);
  }

  private async backOff(err: MaltError): Promise<void> {
    if (this.failures === 0) this.failingSince = Date.now();
    this.failures += 1;
    this.stats.retries += 1;
    this.ownPendingDue = true; // what was in hand is still pending: read it again
    const ms = Math.min(5000, 100 * 2 ** Math.min(this.failures - 1, 6));
    // Retried for as long as it fails (nothing is acknowledged, so nothing is lost), at most every 5 s.
    this.logger.error(`consume: ${err.code}: ${err.message}; entries stay pending, retry ${this.failures} in ${ms} ms (failing for ${Date.now() - this.failingSince} ms)`, { retry_in_ms: ms, failed_rounds: this.failures, failing_ms: Date.now() - this.failingSince });
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(t); resolve(); };
    });
    this.wake = null;
  }

  /** This consumer's delivered-but-unacknowledged entries, oldest first, until none is left. */
  private async readOwnPending(): Promise<void> {
    for (const s of this.o.streams) {
      let after = '0';
      for (;;) {
        const reply = (await this.o.reader.xreadgroup('GROUP', s.group, this.o.consumer, 'COUNT', this.o.batchSize, 'STREAMS', s.stream, after)) as ReadReply;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) break;
        await this.handle(s, entries);
        if (this.stopping) return; // the batch in hand is done; the rest stays pending
        after = (entries[entries.length - 1] as RawEntry)[0];
      }
    }
    this.ownPendingDue = false;
  }

  /** XAUTOCLAIM: take over entries idle for claim_idle_ms (their consumer died or hangs). */
  private async claimIdle(): Promise<void> {
    for (const s of this.o.streams) {
      let cursor = '0-0';
      do {
        const [next, entries, deleted] = (await this.o.redis.xautoclaim(s.stream, s.group, this.o.consumer, this.o.claimIdleMs, cursor, 'COUNT', this.o.batchSize)) as [string, RawEntry[], string[]?];
        if (deleted && deleted.length > 0) {
          this.stats.vanished += deleted.length;
          this.logger.warn(`consume: ${deleted.length} pending entries of ${s.stream} were deleted from the stream before they were applied`, { stream: s.stream });
        }
        if (entries.length > 0) {
          this.stats.claimed += entries.length;
          this.logger.info(`consume: claimed ${entries.length} entries of ${s.stream} idle for ${this.o.claimIdleMs} ms`, { stream: s.stream });
          await this.handle(s, entries);
        }
        cursor = next;
      } while (cursor !== '0-0' && !this.stopping);
    }
    this.nextClaimAt = Date.now() + this.o.claimIdleMs;
  }

  private async readNew(): Promise<void> {
    const block = Math.max(1, Math.min(this.o.blockMs, this.nextClaimAt - Date.now()));
    const keys = this.o.streams.map((s) => s.stream);
    const reply = (await this.o.reader.xreadgroup('GROUP', this.o.group, this.o.consumer, 'COUNT', this.o.batchSize, 'BLOCK', block, 'STREAMS', ...keys, ...keys.map(() => '>'))) as ReadReply;
    // The batch in hand is finished even when stop() came meanwhile.
    for (const [stream, entries] of reply ?? []) {
      const s = this.byStream.get(stream);
      if (s && entries.length > 0) await this.handle(s, entries);
    }
  }

  /** Applies one stream's entries, then dead-letters the bad ones and acknowledges all in one MULTI. */
  private async handle(s: ConsumedStream, entries: readonly RawEntry[]): Promise<void> {
    const { appliedIds, dead } = await applyEntries(this.o.writePath, s.dataset, entries.map(parseEntry));
    await deadLetterAndAck(this.o.redis, s, this.o.consumer, dead, appliedIds);
    this.stats.applied += appliedIds.length;
    this.stats.deadLettered += dead.length;
    for (const d of dead) {
      this.stats.deadByCode[d.code] = (this.stats.deadByCode[d.code] ?? 0) + 1;
      this.logger.warn(`consume: entry ${d.id} of ${s.stream} dead-lettered to ${s.deadLetterStream}: ${d.code}: ${d.message}`, { stream: s.stream, id: d.id });
    }
  }
}

/**
 * Creates the consumer group on every stream (from the stream's first entry, MKSTREAM), then
 * runs the loop until stop(). Throws (MaltError) only when the groups cannot be set up.
 */
export async function startStreamConsumer(options: ConsumerOptions): Promise<ConsumerRun> {
  if (options.streams.length === 0) throw new MaltError('CONFIG_INVALID', 'no dataset to consume: set updates_stream on a dataset');
  const c = new StreamConsumer(options);
  await c.init();
  const finished = c.run();
  return {
    consumer: options.consumer,
    stats: c.stats,
    finished,
    stop: async () => {
      c.stop();
      await finished;
    },
  };
}
