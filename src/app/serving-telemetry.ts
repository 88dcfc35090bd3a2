/**
 * Connects a serving app to telemetry (docs/observability.md): tracing first (so its flush is the
 * close stack's last step), then scrape-time collection of the app's state (cache, served
 * versions, Redis reachability) and of what Redis records about loads, update streams and Kafka
 * consumer lag. Each piece registers its undo on the app's close stack.
 */
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import type { ResultCache } from '../cache/result-cache.js';
import { KeyLayout } from '../keys.js';
import type { Lookup } from '../serving/lookup.js';
import type { ReadinessMonitor } from '../serving/readiness.js';
import type { VersionTracker } from '../serving/version-tracker.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { traceLookups } from '../telemetry/lookup-tracing.js';
import { beforeScrape, enableProcessMetrics } from '../telemetry/metrics.js';
import { collectRedisSide } from '../telemetry/redis-side-metrics.js';
import { registerServingSource } from '../telemetry/serving-metrics.js';
import { readKafkaLag } from '../store/kafka-lag-store.js';
import { startTracing, tracing } from '../telemetry/tracing.js';
import type { Lifecycle } from './lifecycle.js';

/** Process metrics, and the OTLP exporter when one is configured (else no SDK is loaded). */
export async function startTelemetry(config: MaltConfig, lifecycle: Lifecycle): Promise<void> {
  enableProcessMetrics();
  const handle = await startTracing(config.telemetry);
  if (handle) lifecycle.add('telemetry flush', () => handle.shutdown());
}

export interface ObservedParts {
  readonly config: MaltConfig;
  readonly redis: Redis;
  readonly cache: ResultCache;
  readonly lookup: Lookup;
  readonly tracker: VersionTracker;
  readonly readiness: ReadinessMonitor;
}

/** How long a scrape waits for the Redis-side part (load manifests, stream and Kafka lag) before answering without it. */
const REDIS_SIDE_TIMEOUT_MS = 1000;

export function observeServing(p: ObservedParts, lifecycle: Lifecycle): void {
  const { config } = p;
  const datasets = config.datasets.map((d) => d.name);
  lifecycle.add('serving metrics', registerServingSource({
    cache: p.cache, cacheMaxBytes: config.cache.maxBytes, datasets,
    served: (d) => p.tracker.get(d), redisUp: () => p.readiness.store === 'up',
  }));
  const keys = new KeyLayout(config.redis.keyPrefix);
  const store = new SnapshotStore(p.redis, keys);
  const streams = config.datasets.filter((d) => d.updatesStream !== null)
    .map((d) => ({ dataset: d.name, stream: d.updatesStream as string, deadLetterStream: d.deadLetterStream }));
  // The group as consume/kafka-consumer.ts's kafkaDatasets() picks it (not imported: serving loads no Kafka client).
  const kafka = config.datasets.flatMap((d) => {
    if (d.updatesKafka === null) return [];
    const group = d.updatesKafka.group ?? config.consume.group;
    return [{ dataset: d.name, topic: d.updatesKafka.topic, group, key: keys.kafkaLag(d.name, d.updatesKafka.topic, group) }];
  });
  lifecycle.add('redis-side metrics', beforeScrape(() => collectRedisSide({
    datasets, listVersions: (d) => store.listVersions(d), redis: p.redis, streams, group: config.consume.group, kafka, readKafkaLag: (key) => readKafkaLag(p.redis, key),
  }, REDIS_SIDE_TIMEOUT_MS)));
  if (tracing.on) traceLookups(p.lookup, p.cache.stats);
}
