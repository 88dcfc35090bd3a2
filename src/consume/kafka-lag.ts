/**
 * Lag of a Kafka consumer per assigned partition: the partition's end offset minus the offset the
 * consumer last committed there (records not yet applied and committed). Measured every
 * `lag_log_interval` and logged as one line (never one line per partition or per record), and
 * handed to `onLag` so metrics can publish it (a gauge per topic/partition).
 */
import type { Consumer } from '@platformatic/kafka';
import type { Logger } from '../telemetry/logger.js';

export interface PartitionLag {
  readonly dataset: string;
  readonly topic: string;
  readonly partition: number;
  /** Records behind the end of the partition; the whole partition when nothing is committed yet. */
  readonly lag: number;
}

export type LagListener = (lags: readonly PartitionLag[]) => void;

/** Lag of every partition of `topic` assigned to `consumer`, given the offsets it committed. */
export async function measureLag(consumer: Consumer, dataset: string, topic: string, committed: ReadonlyMap<number, bigint>): Promise<PartitionLag[]> {
  const assigned = consumer.assignments?.find((a) => a.topic === topic)?.partitions ?? [];
  if (assigned.length === 0) return [];
  const [ends, starts] = await Promise.all([
    consumer.listOffsets({ topics: [topic], partitions: { [topic]: assigned } }),
    consumer.listOffsets({ topics: [topic], partitions: { [topic]: assigned }, timestamp: -2n }),
  ]);
  const end = ends.get(topic) ?? [];
  const start = starts.get(topic) ?? [];
  return [...assigned].sort((a, b) => a - b).map((partition) => {
    const e = end[partition] ?? 0n;
    const from = committed.get(partition) ?? start[partition] ?? 0n;
    return { dataset, topic, partition, lag: Number(e > from ? e - from : 0n) };
  });
}

/** Starts the periodic lag check; returns the function that stops it. */
export function startLagMonitor(o: {
  readonly consumer: Consumer;
  readonly dataset: string;
  readonly topic: string;
  readonly committed: ReadonlyMap<number, bigint>;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly onLag?: LagListener;
  readonly onMeasured: (lags: readonly PartitionLag[]) => void;
}): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const tick = async (): Promise<void> => {
    try {
      const lags = await measureLag(o.consumer, o.dataset, o.topic, o.committed);
      if (stopped) return;
      o.onMeasured(lags);
      o.onLag?.(lags);
      const total = lags.reduce((s, l) => s + l.lag, 0);
      o.logger.info(`consume: kafka lag ${o.dataset} ← ${o.topic}: ${lags.length === 0 ? 'no partition assigned' : lags.map((l) => `p${l.partition}=${l.lag}`).join(' ')}`, { dataset: o.dataset, topic: o.topic, lag: total });
    } catch (err) {
      if (!stopped) o.logger.warn(`consume: kafka lag of ${o.topic} unknown: ${(err as Error).message}`, { topic: o.topic });
    }
    if (!stopped) timer = setTimeout(() => void tick(), o.intervalMs);
  };
  timer = setTimeout(() => void tick(), o.intervalMs);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
