/**
 * Starts one Kafka consumer per dataset with `updates_kafka` (for `malt consume`): connection
 * options (TLS, SASL), the dead-letter sink (a producer for `dead_letter_topic`, else the Redis
 * stream), then the consumer, which records its lag in Redis for the serving replicas' metrics.
 * If one cannot start, the ones already started are stopped.
 */
import { Producer } from '@platformatic/kafka';
import type { Redis } from 'ioredis';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { KeyLayout } from '../keys.js';
import type { Logger } from '../telemetry/logger.js';
import type { UpdateWritePath } from '../updates/write-path.js';
import { kafkaConnection } from './kafka-client-options.js';
import { type KafkaConsumerRun, kafkaDatasets, startKafkaConsumer } from './kafka-consumer.js';
import { type KafkaDeadLetterSink, streamDeadLetters, topicDeadLetters } from './kafka-dead-letter.js';
import { type LagListener, redisLagRecorder } from './kafka-lag.js';

export interface KafkaStartOptions {
  readonly redis: Redis;
  readonly writePath: UpdateWritePath;
  readonly consumer: string;
  readonly logger: Logger;
  readonly onLag?: LagListener;
}

/** Starts the consumers of `names` (default: every dataset with updates_kafka); [] when none. */
export async function startKafkaConsumers(cfg: MaltConfig, names: readonly string[], o: KafkaStartOptions): Promise<KafkaConsumerRun[]> {
  const chosen = kafkaDatasets(cfg, names);
  // Every dataset's options are checked (files, secrets) before anything connects.
  const connections = chosen.map((c) => kafkaConnection(c.dataset, c.settings));
  const runs: KafkaConsumerRun[] = [];
  const keys = new KeyLayout(cfg.redis.keyPrefix);
  try {
    for (const [i, c] of chosen.entries()) {
      const connection = connections[i] as ReturnType<typeof kafkaConnection>;
      const k = c.settings;
      const deadLetters: KafkaDeadLetterSink = k.deadLetterTopic !== null
        ? topicDeadLetters(new Producer({ ...connection, idempotent: false, acks: -1, retries: 3, retryDelay: 500 }), k.deadLetterTopic, o.consumer)
        : streamDeadLetters(o.redis, k.deadLetterStream as string, o.consumer, (cfg.datasets.find((d) => d.name === c.dataset) as DatasetConfig).deadLetterMaxlen);
      runs.push(await startKafkaConsumer({
        dataset: c.dataset, settings: k, group: c.group, consumer: o.consumer, connection,
        writePath: o.writePath, deadLetters, logger: o.logger, ...(o.onLag ? { onLag: o.onLag } : {}),
        lagRecorder: redisLagRecorder(o.redis, keys, { dataset: c.dataset, topic: k.topic, group: c.group, consumer: o.consumer, intervalMs: k.lagIntervalMs }),
      }));
    }
  } catch (err) {
    await Promise.all(runs.map((r) => r.stop()));
    throw err;
  }
  return runs;
}
