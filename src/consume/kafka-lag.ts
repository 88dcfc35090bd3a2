/**
 * Lag of a Kafka consumer per assigned partition: the partition's end offset minus the group's
 * committed offset there (records not yet applied and committed). Measured every `lag_interval`
 * and recorded in Redis (one hash per dataset, topic and group, src/keys.ts), where every serving
 * replica's `/metrics` reads it (telemetry/redis-side-metrics.ts): `malt consume` has no scrape
 * target of its own. Logged as one line (never one line per partition or per record) at start and
 * then every `lag_log_interval`, and handed to `onLag`.
 */
import type { Consumer } from '@platformatic/kafka';
import type { Redis } from 'ioredis';
import { type KeyLayout, kafkaLagField } from '../keys.js';
import { writeKafkaLag } from '../store/kafka-lag-store.js';
import type { Logger } from '../telemetry/logger.js';

export interface PartitionLag {
  readonly dataset: string;
  readonly topic: string;
  readonly partition: number;
  /** Records behind the end of the partition; the whole partition when nothing is committed yet. */
  readonly lag: number;
}

export type LagListener = (lags: readonly PartitionLag[]) => void;

/** Stores one measurement (taken at `atMs`) where the serving replicas read it. */
export type LagRecorder = (lags: readonly PartitionLag[], atMs: number) => Promise<void>;

/**
 * Lag of every partition of `topic` assigned to `consumer`. The offset a partition is read from is
 * the group's committed one (OffsetFetch), or this consumer's own newer commit: a consumer that
 * just joined reports what the group left behind, not the whole partition. A partition the group
 * never committed starts where `startFrom` says (earliest: the log start; latest: the end).
 */
export async function measureLag(consumer: Consumer, dataset: string, topic: string, committed: ReadonlyMap<number, bigint>, startFrom: 'earliest' | 'latest' = 'earliest'): Promise<PartitionLag[]> {
  const assigned = [...(consumer.assignments?.find((a) => a.topic === topic)?.partitions ?? [])].sort((a, b) => a - b);
  if (assigned.length === 0) return [];
  const [ends, starts, group] = await Promise.all([
    consumer.listOffsets({ topics: [topic], partitions: { [topic]: assigned } }),
    consumer.listOffsets({ topics: [topic], partitions: { [topic]: assigned }, timestamp: -2n }),
    consumer.listCommittedOffsets({ topics: [{ topic, partitions: assigned }] }),
  ]);
  const end = ends.get(topic) ?? [];
  const start = starts.get(topic) ?? [];
  const byGroup = group.get(topic) ?? [];
  return assigned.map((partition) => {
    const e = end[partition] ?? 0n;
    const own = committed.get(partition) ?? -1n;
    const theirs = byGroup[partition] ?? -1n;
    const next = own > theirs ? own : theirs;
    const from = next >= 0n ? next : startFrom === 'latest' ? e : (start[partition] ?? 0n);
    return { dataset, topic, partition, lag: Number(e > from ? e - from : 0n) };
  });
}

/** A LagRecorder writing the kafkaLag() hash: one HSET of every measured partition (a field per partition). */
export function redisLagRecorder(redis: Redis, keys: KeyLayout, o: { readonly dataset: string; readonly topic: string; readonly group: string; readonly consumer: string; readonly intervalMs: number }): LagRecorder {
  const key = keys.kafkaLag(o.dataset, o.topic, o.group);
  return async (lags, atMs) => {
    if (lags.length === 0) return;
    await writeKafkaLag(redis, key, lags.map((l) => [String(l.partition), kafkaLagField({ lag: l.lag, at: atMs, intervalMs: o.intervalMs, consumer: o.consumer })] as const));
  };
}

/** Starts the periodic lag measurement (the first one at once); returns the function that stops it (and waits for one in flight). */
export function startLagMonitor(o: {
  readonly consumer: Consumer;
  readonly dataset: string;
  readonly topic: string;
  readonly committed: ReadonlyMap<number, bigint>;
  readonly startFrom: 'earliest' | 'latest';
  /** lag_interval: how often to measure and record. */
  readonly intervalMs: number;
  /** lag_log_interval: how often to log the newest measurement. */
  readonly logIntervalMs: number;
  readonly logger: Logger;
  readonly onLag?: LagListener;
  readonly record?: LagRecorder;
  readonly onMeasured: (lags: readonly PartitionLag[]) => void;
}): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let loggedAt = -Infinity;
  const tick = async (): Promise<void> => {
    try {
      const lags = await measureLag(o.consumer, o.dataset, o.topic, o.committed, o.startFrom);
      const at = Date.now();
      if (stopped) return;
      o.onMeasured(lags);
      o.onLag?.(lags);
      // A failed write only delays the metric (its age grows on the replicas): it never stops consuming.
      if (o.record) await o.record(lags, at).catch((err: Error) => o.logger.warn(`consume: kafka lag of ${o.topic} not recorded in Redis: ${err.message}`, { topic: o.topic }));
      if (at - loggedAt >= o.logIntervalMs) {
        loggedAt = at;
        const total = lags.reduce((s, l) => s + l.lag, 0);
        o.logger.info(`consume: kafka lag ${o.dataset} ← ${o.topic}: ${lags.length === 0 ? 'no partition assigned' : lags.map((l) => `p${l.partition}=${l.lag}`).join(' ')}`, { dataset: o.dataset, topic: o.topic, lag: total });
      }
    } catch (err) {
      if (!stopped) o.logger.warn(`consume: kafka lag of ${o.topic} unknown: ${(err as Error).message}`, { topic: o.topic });
    }
    if (!stopped) timer = setTimeout(() => void (running = tick()), o.intervalMs);
  };
  timer = setTimeout(() => void (running = tick()), 0);
  // Resolves once a measurement in flight has ended: nothing is written after the caller closes Redis.
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
  };
}
