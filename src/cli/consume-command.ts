/**
 * `malt consume [datasets…]`: applies the entries of each dataset's `updates_stream` (Redis
 * Streams) and the records of its `updates_kafka` topic (docs/kafka.md) through the update write
 * path (src/consume/), until stopped. The first SIGINT/SIGTERM drains: the batch in
 * hand is applied and acknowledged, then Redis is closed and the process exits 0; a second
 * signal exits 130 at once (entries in hand stay pending and are claimed by another consumer).
 */
import type { Command } from 'commander';
import { Lifecycle } from '../app/lifecycle.js';
import { type MaltConfig, findDataset } from '../config.js';
import type { KafkaConsumerRun } from '../consume/kafka-consumer.js';
import { startKafkaConsumers } from '../consume/kafka-start.js';
import { consumedStreams, defaultConsumerName, startStreamConsumer, type ConsumerStats } from '../consume/stream-consumer.js';
import { MaltError } from '../errors.js';
import { openRedis } from '../redis/redis-handle.js';
import { stderrLogger } from '../telemetry/logger.js';
import { createUpdateWritePath } from '../updates/write-path.js';
import { EXIT, action, commandErrorExitCode, config, configOption, onShutdownSignals } from './cli-support.js';

const summary = (s: Readonly<ConsumerStats>) => ({
  applied: s.applied,
  dead_lettered: s.deadLettered,
  claimed: s.claimed,
  vanished: s.vanished,
  retries: s.retries,
  dead_by_code: JSON.stringify(s.deadByCode),
});

const kafkaSummary = (r: KafkaConsumerRun) => ({
  dataset: r.dataset,
  topic: r.topic,
  applied: r.stats.applied,
  dead_lettered: r.stats.deadLettered,
  commits: r.stats.commits,
  commit_failures: r.stats.commitFailures,
  retries: r.stats.retries,
  dead_by_code: JSON.stringify(r.stats.deadByCode),
});

async function runConsume(cfg: MaltConfig, names: readonly string[], consumerName: string | undefined): Promise<number> {
  for (const n of names) if (!findDataset(cfg, n)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${n}" (declared: ${cfg.datasets.map((d) => d.name).join(', ')})`);
  const streams = consumedStreams(cfg, names);
  const kafkaCount = cfg.datasets.filter((d) => d.updatesKafka !== null && (names.length === 0 || names.includes(d.name))).length;
  if (streams.length === 0 && kafkaCount === 0) throw new MaltError('CONFIG_INVALID', `no dataset to consume: set updates_stream or updates_kafka on ${names.length > 0 ? names.join(', ') : 'a dataset'}`);
  const consumer = consumerName ?? cfg.consume.consumer ?? defaultConsumerName();
  const lifecycle = new Lifecycle(stderrLogger);
  let stopping = false;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const remove = onShutdownSignals((sig) => {
    stopping = true;
    stderrLogger.warn(`${sig}: draining: finishing the batch in hand; signal again to quit at once`);
    void lifecycle.close().then(resolveStopped);
  });
  try {
    const handle = await openRedis(cfg, { logger: stderrLogger });
    lifecycle.add('redis', () => handle.close());
    if (stopping) return EXIT.ok;
    const writePath = createUpdateWritePath(handle.client, cfg);
    const kafka = await startKafkaConsumers(cfg, names, { redis: handle.client, writePath, consumer, logger: stderrLogger });
    for (const k of kafka) lifecycle.add(`kafka consumer ${k.dataset}`, () => k.stop());
    if (kafka.length > 0) stderrLogger.info(`consume started: ${kafka.map((k) => `${k.dataset} ← kafka ${k.topic}`).join(', ')}`, { group: kafka.map((k) => k.group).join(','), consumer });
    if (streams.length === 0) {
      await Promise.race([Promise.all(kafka.map((k) => k.finished)), stopped]);
      await lifecycle.close();
      for (const k of kafka) stderrLogger.info('consume stopped', kafkaSummary(k));
      return EXIT.ok;
    }
    const run = await startStreamConsumer({
      redis: handle.client,
      reader: handle.duplicate(),
      writePath,
      streams,
      group: cfg.consume.group,
      consumer,
      batchSize: cfg.consume.batchSize,
      blockMs: cfg.consume.blockMs,
      claimIdleMs: cfg.consume.claimIdleMs,
      logger: stderrLogger,
    });
    lifecycle.add('consumer', () => run.stop());
    stderrLogger.info(`consume started: ${streams.map((s) => `${s.dataset} ← ${s.stream}`).join(', ')}`, { group: cfg.consume.group, consumer });
    await Promise.race([run.finished, stopped]);
    await lifecycle.close();
    stderrLogger.info('consume stopped', summary(run.stats));
    for (const k of kafka) stderrLogger.info('consume stopped', kafkaSummary(k));
    return EXIT.ok;
  } finally {
    remove();
    await lifecycle.close();
  }
}

export function registerConsume(program: Command): void {
  program.command('consume').description('apply real-time updates from each dataset\'s updates_stream (Redis Streams) and updates_kafka topic (Kafka), with consumer groups, until stopped (all when none named)')
    .argument('[datasets...]').addOption(configOption()).option('--consumer <name>', 'this consumer\'s name in the group (default: consume.consumer, else <hostname>-<pid>)')
    .action(action(async (names: string[], opts: { config?: string; consumer?: string }) => {
      const cfg = config(opts);
      // Exit explicitly: an embedded redis-server child or a stray timer must not keep us alive.
      process.exit(await runConsume(cfg, names, opts.consumer));
    }, commandErrorExitCode));
}
