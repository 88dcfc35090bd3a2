/**
 * The Kafka consumer behind `malt consume` for a dataset with `updates_kafka`: reads the topic
 * with a consumer group (@platformatic/kafka, classic group protocol), applies records through
 * the update write path in batches (apply-entries.ts: the same validation, per-item refusals and
 * splitting as for Redis Streams), writes the bad ones to the dead letters, and only then commits
 * each partition's offset past the batch (at-least-once). A write that fails (Redis unreachable)
 * commits nothing: the fetch stream is reopened from the committed offsets after a back-off, so
 * the records are read and applied again. A rebalance (a consumer joined, left or died) moves
 * partitions; records the old owner applied but had not committed are applied again by the new
 * one, which last-write-wins by event time makes harmless.
 *
 * stop() finishes the batch in hand (applied, dead-lettered, committed), closes the fetch stream
 * and leaves the group, so the partitions move to the other consumers at once. Library code: it
 * never exits the process and installs no signal handler.
 */
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import type { MaltConfig } from '../config.js';
import { MaltError } from '../errors.js';
import { type Logger, silentLogger } from '../telemetry/logger.js';
import type { UpdateWritePath } from '../updates/write-path.js';
import { applyEntries } from './apply-entries.js';
import type { KafkaConnection, KafkaSettings } from './kafka-client-options.js';
import type { KafkaDeadLetterSink } from './kafka-dead-letter.js';
import { type LagListener, type LagRecorder, type PartitionLag, measureLag, startLagMonitor } from './kafka-lag.js';
import { parseKafkaRecord, recordId } from './kafka-record.js';

type Record_ = Message<Buffer, Buffer, Buffer, Buffer>;

export interface KafkaConsumerStats {
  /** Records applied through the write path (and then committed, unless a commit failed). */
  applied: number;
  /** Records written to the dead letters, by reason code. */
  deadLettered: number;
  readonly deadByCode: Record<string, number>;
  /** Partition offsets committed, and commits refused (e.g. during a rebalance: replayed, harmless). */
  commits: number;
  commitFailures: number;
  /** Write rounds that failed; their records were read again from the committed offsets. */
  retries: number;
  /** Group joins (the first one included): each is a new partition assignment. */
  joins: number;
}

export interface KafkaConsumerOptions {
  readonly dataset: string;
  readonly settings: KafkaSettings;
  /** The consumer group (updates_kafka.group, else consume.group). */
  readonly group: string;
  /** This consumer's name (logs, dead letters). */
  readonly consumer: string;
  readonly connection: KafkaConnection;
  readonly writePath: UpdateWritePath;
  readonly deadLetters: KafkaDeadLetterSink;
  /** Default: none. */
  readonly logger?: Logger;
  /** Called with each periodic lag measurement. Default: none. */
  readonly onLag?: LagListener;
  /** Stores each periodic lag measurement for the serving replicas' metrics (redisLagRecorder). Default: none. */
  readonly lagRecorder?: LagRecorder;
}

export interface KafkaConsumerRun {
  readonly dataset: string;
  readonly topic: string;
  readonly group: string;
  readonly stats: Readonly<KafkaConsumerStats>;
  /** Partitions of the topic assigned to this consumer now. */
  assigned(): number[];
  /** Measures the lag per assigned partition now. */
  lag(): Promise<PartitionLag[]>;
  /** The newest periodic lag measurement (empty before the first). */
  lastLag(): readonly PartitionLag[];
  /** Resolves when the loop has ended (after stop()). */
  readonly finished: Promise<void>;
  /** Finishes the batch in hand, commits it, leaves the group; idempotent. */
  stop(): Promise<void>;
}

/** The datasets `malt consume` reads from Kafka (default: every one with `updates_kafka`). */
export function kafkaDatasets(config: MaltConfig, names: readonly string[] = []): { dataset: string; settings: KafkaSettings; group: string }[] {
  const chosen = config.datasets.filter((d) => d.updatesKafka !== null && (names.length === 0 || names.includes(d.name)));
  const seen = new Map<string, string>();
  return chosen.map((d) => {
    const k = d.updatesKafka as KafkaSettings;
    if (!d.updates.enabled) throw new MaltError('CONFIG_INVALID', `dataset "${d.name}" has updates_kafka but does not accept updates: set updates.enabled: true`);
    const group = k.group ?? config.consume.group;
    const id = `${k.brokers.join(',')}|${k.topic}|${group}`;
    const other = seen.get(id);
    if (other !== undefined) throw new MaltError('CONFIG_INVALID', `datasets "${other}" and "${d.name}" read the same Kafka topic "${k.topic}" with the same group "${group}"`);
    seen.set(id, d.name);
    return { dataset: d.name, settings: k, group };
  });
}

class KafkaUpdateConsumer {
  readonly stats: KafkaConsumerStats = { applied: 0, deadLettered: 0, deadByCode: {}, commits: 0, commitFailures: 0, retries: 0, joins: 0 };
  /** Next offset to read per partition, as last committed by this consumer. */
  readonly committed = new Map<number, bigint>();
  client: Consumer;
  lags: readonly PartitionLag[] = [];
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  private buffer: Record_[] = [];
  private streamError: Error | null = null;
  private wake: (() => void) | null = null;
  private stopping = false;
  private failures = 0;
  private readonly logger: Logger;
  private readonly k: KafkaSettings;

  constructor(private readonly o: KafkaConsumerOptions) {
    this.k = o.settings;
    this.logger = o.logger ?? silentLogger;
    this.client = this.newClient();
  }

  /** A fresh client (after a failed join its group state is not reused). */
  newClient(): Consumer {
    const o = this.o;
    const client = new Consumer({
      ...o.connection,
      groupId: o.group,
      autocommit: false,
      sessionTimeout: this.k.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.min(3000, Math.floor(this.k.sessionTimeoutMs / 3))),
      rebalanceTimeout: Math.max(this.k.sessionTimeoutMs, 10_000),
      maxWaitTime: this.k.maxWaitMs,
      highWaterMark: this.k.batchSize,
      retries: 3,
      retryDelay: 500,
    });
    client.on('consumer:group:join', (p) => {
      this.stats.joins += 1;
      const parts = p.assignments?.find((a) => a.topic === this.k.topic)?.partitions ?? [];
      this.logger.info(`consume: kafka ${o.dataset} joined group ${o.group}: partitions ${parts.length > 0 ? [...parts].sort((a, b) => a - b).join(',') : 'none'} of ${this.k.topic}`, { dataset: o.dataset, topic: this.k.topic, group: o.group });
    });
    return client;
  }

  /** Opens the fetch stream at the committed offsets (joins the group first). */
  async open(): Promise<void> {
    this.buffer = [];
    this.streamError = null;
    const stream = await this.client.consume({
      topics: [this.k.topic], mode: 'committed', fallbackMode: this.k.startFrom, autocommit: false,
      maxWaitTime: this.k.maxWaitMs, sessionTimeout: this.k.sessionTimeoutMs, highWaterMark: this.k.batchSize,
    });
    stream.on('data', (m: Record_) => {
      this.buffer.push(m);
      if (this.buffer.length >= this.k.batchSize) stream.pause();
      this.notify();
    });
    stream.on('error', (err: Error) => {
      this.streamError = err;
      this.notify();
    });
    this.stream = stream;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => { this.wake = null; resolve(); }, ms);
      this.wake = () => { clearTimeout(t); resolve(); };
    });
  }

  async run(): Promise<void> {
    while (!this.stopping) {
      if (this.stream === null || this.streamError !== null) {
        if (this.streamError) this.logger.error(`consume: kafka ${this.k.topic}: ${this.streamError.message}; reopening from the committed offsets`, { topic: this.k.topic });
        await this.reopen();
        continue;
      }
      if (this.buffer.length === 0) {
        await this.sleep(1000);
        continue;
      }
      const batch = this.buffer.splice(0, this.k.batchSize);
      try {
        await this.handle(batch);
        this.failures = 0;
      } catch (err) {
        const e = err instanceof MaltError ? err : new MaltError('STORE_UNAVAILABLE', (err as Error).message);
        this.stats.retries += 1;
        this.logger.error(`consume: kafka ${this.k.topic}: ${e.code}: ${e.message}; nothing committed, reading the batch again`, { topic: this.k.topic });
        await this.reopen();
        continue;
      }
      if (this.stream.isPaused() && this.buffer.length < this.k.batchSize) this.stream.resume();
    }
  }

  /** Closes the stream (dropping what it buffered) and opens it again after a back-off. */
  private async reopen(): Promise<void> {
    this.failures += 1;
    await this.closeStream();
    if (this.stopping) return;
    await this.sleep(Math.min(5000, 100 * 2 ** Math.min(this.failures - 1, 6)));
    if (this.stopping) return;
    try {
      await this.open();
    } catch (err) {
      this.streamError = err as Error;
    }
  }

  async closeStream(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    this.buffer = [];
    if (s) await s.close().catch((err: Error) => this.logger.warn(`consume: kafka stream close: ${err.message}`));
  }

  /** Applies, dead-letters, then commits one batch; throws (nothing committed) when the write fails. */
  private async handle(batch: readonly Record_[]): Promise<void> {
    const byId = new Map(batch.map((m) => [recordId(m.partition, m.offset), m]));
    const { appliedIds, dead } = await applyEntries(this.o.writePath, this.o.dataset, batch.map(parseKafkaRecord));
    await this.o.deadLetters.write(dead.map((d) => ({ record: byId.get(d.id) as Record_, code: d.code, message: d.message })));
    this.stats.applied += appliedIds.length;
    this.stats.deadLettered += dead.length;
    for (const d of dead) {
      this.stats.deadByCode[d.code] = (this.stats.deadByCode[d.code] ?? 0) + 1;
      this.logger.warn(`consume: kafka record ${this.k.topic}/${d.id.replace('-', '@')} dead-lettered to ${this.o.deadLetters.target}: ${d.code}: ${d.message}`, { topic: this.k.topic, record: d.id });
    }
    await this.commit(batch);
  }

  /** Commits, per partition, the offset after the batch's last record. A refused commit is replayed later. */
  private async commit(batch: readonly Record_[]): Promise<void> {
    const last = new Map<number, Record_>();
    for (const m of batch) if ((last.get(m.partition)?.offset ?? -1n) < m.offset) last.set(m.partition, m);
    await Promise.all([...last.values()].map((m) => new Promise<void>((resolve) => {
      m.commit((err?: Error) => {
        if (err) {
          this.stats.commitFailures += 1;
          this.logger.warn(`consume: kafka commit of ${this.k.topic} partition ${m.partition} refused (${err.message}); its records will be applied again`, { topic: this.k.topic, partition: m.partition });
        } else {
          this.stats.commits += 1;
          this.committed.set(m.partition, m.offset + 1n);
        }
        resolve();
      });
    })));
  }

  stop(): void {
    this.stopping = true;
    this.notify();
  }
}

/** The Kafka error names (apiId) inside a @platformatic/kafka error and the errors it wraps. */
export function kafkaErrorCodes(err: unknown, out: string[] = [], depth = 0): string[] {
  const e = err as { apiId?: unknown; errors?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== 'object' || depth > 5) return out;
  if (typeof e.apiId === 'string' && !out.includes(e.apiId)) out.push(e.apiId);
  if (Array.isArray(e.errors)) for (const x of e.errors) kafkaErrorCodes(x, out, depth + 1);
  if (e.cause) kafkaErrorCodes(e.cause, out, depth + 1);
  return out;
}

const REJOIN_CODES = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'MEMBER_ID_REQUIRED']);

/** A group-coordination refusal that a new JoinGroup resolves (another consumer joined or left). */
function isRejoin(err: unknown): boolean {
  return kafkaErrorCodes(err).some((c) => REJOIN_CODES.has(c));
}

/**
 * Joins the group and opens the topic (throws KAFKA_UNAVAILABLE when the brokers cannot be
 * reached), then runs the loop until stop().
 */
export async function startKafkaConsumer(o: KafkaConsumerOptions): Promise<KafkaConsumerRun> {
  const c = new KafkaUpdateConsumer(o);
  const logger = o.logger ?? silentLogger;
  try {
    // Joining while the group rebalances (another consumer joining or leaving) is refused with
    // REBALANCE_IN_PROGRESS / a rejoin request: join again rather than fail.
    for (let attempt = 1; ; attempt++) {
      try {
        await c.open();
        break;
      } catch (err) {
        if (attempt >= 10 || !isRejoin(err)) throw err;
        logger.info(`consume: kafka group ${o.group} is rebalancing; joining again`, { group: o.group });
        // Leave with the half-joined member (else it holds partitions until its session expires), then start afresh.
        if (c.client.memberId) await Promise.resolve(c.client.leaveGroup(true)).catch(() => undefined);
        await Promise.resolve(c.client.close(true)).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 200 * attempt));
        c.client = c.newClient();
      }
    }
  } catch (err) {
    await Promise.resolve(c.client.close(true)).catch(() => undefined);
    await o.deadLetters.close().catch(() => undefined);
    throw new MaltError('KAFKA_UNAVAILABLE', `dataset ${o.dataset}: cannot consume ${o.settings.topic} from ${o.settings.brokers.join(',')}: ${(err as Error).message}${kafkaErrorCodes(err).length > 0 ? ` (${kafkaErrorCodes(err).join(', ')})` : ''}`);
  }
  const stopLag = startLagMonitor({
    consumer: c.client, dataset: o.dataset, topic: o.settings.topic, committed: c.committed,
    startFrom: o.settings.startFrom, intervalMs: o.settings.lagIntervalMs, logIntervalMs: o.settings.lagLogIntervalMs, logger,
    ...(o.onLag ? { onLag: o.onLag } : {}), ...(o.lagRecorder ? { record: o.lagRecorder } : {}), onMeasured: (l) => (c.lags = l),
  });
  const finished = c.run();
  let closing: Promise<void> | null = null;
  return {
    dataset: o.dataset,
    topic: o.settings.topic,
    group: o.group,
    stats: c.stats,
    assigned: () => [...(c.client.assignments?.find((a) => a.topic === o.settings.topic)?.partitions ?? [])].sort((a, b) => a - b),
    lag: () => measureLag(c.client, o.dataset, o.settings.topic, c.committed, o.settings.startFrom),
    lastLag: () => c.lags,
    finished,
    stop: () => (closing ??= (async () => {
      c.stop();
      await finished;
      await stopLag();
      await c.closeStream();
      // Leaving the group hands the partitions to the others now rather than after session_timeout_ms.
      await c.client.close().catch((err: Error) => logger.warn(`consume: kafka leave group ${o.group}: ${err.message}`));
      await o.deadLetters.close().catch((err: Error) => logger.warn(`consume: kafka dead-letter producer close: ${err.message}`));
    })()),
  };
}
