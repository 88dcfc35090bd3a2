/**
 * Kafka consumer lag as metrics of the serving replicas (docs/kafka.md#lag): each `malt consume`
 * Kafka consumer records its lag per partition in Redis, and a serving app's /metrics exports it
 * (`malt_kafka_lag_records`, `malt_kafka_lag_age_seconds`, `malt_kafka_lag_stale_partitions`),
 * against librdkafka's mock cluster through the version bridge (support/kafka-testbed.ts). Lag is
 * made deterministic by holding the consumer's first write: nothing it read is committed yet.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { KeyLayout, parseKafkaLagField } from '../src/keys.js';
import { type UpdateWritePath, createUpdateWritePath } from '../src/updates/write-path.js';
import { type Setup, kafkaTestbed, servedCount, upserts } from './support/kafka-testbed.js';
import { type PromExposition, parseProm } from './support/prom-text.js';

const bed = kafkaTestbed('malt-lag-boot');

async function scrape(app: ServingApp): Promise<PromExposition> {
  const res = await app.http.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return parseProm(res.body);
}

/** A write path whose writes wait until open(): the consumer holds its batch, applied and committed only then. */
function heldWrites(inner: UpdateWritePath): { writePath: UpdateWritePath; held: () => number; open: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let held = 0;
  onTestFinished(() => release()); // a failed test must not leave the consumer's stop() waiting on the write
  return {
    writePath: { apply: async (dataset, items, receivedAt) => { held++; await gate; return inner.apply(dataset, items, receivedAt); } },
    held: () => held,
    open: () => release(),
  };
}

const labelsOf = (s: Setup) => ({ dataset: 'players', topic: s.topic, group: s.group });

/** malt_kafka_lag_records of the setup's topic: partition → lag. */
function lagByPartition(prom: PromExposition, s: Setup): Map<string, number> {
  return new Map(prom.find('malt_kafka_lag_records', labelsOf(s)).map((x) => [x.labels['partition'] as string, x.value]));
}

const total = (lags: ReadonlyMap<string, number>): number => [...lags.values()].reduce((a, b) => a + b, 0);

/** The consumer named in each partition's field of the Redis lag record. */
async function recordedBy(s: Setup): Promise<string[]> {
  const record = await s.redis.hgetall(new KeyLayout(s.prefix).kafkaLag('players', s.topic, s.group));
  return Object.keys(record).sort().map((p) => parseKafkaLagField(record[p] as string)?.consumer ?? 'unparsed');
}

describe('Kafka lag on the serving replicas\' /metrics', () => {
  it('shows the records outstanding per partition, 0 once applied, what a new consumer finds left, and a growing age then stale partitions when no consumer runs', async () => {
    const s = await bed.setup(); // lag_interval 1 s
    const labels = labelsOf(s);
    const first = upserts(0, 40);
    bed.mock().produce(s.topic, first.records); // 41 records with the setup's one, no consumer yet
    let prom = await scrape(s.app);
    expect(prom.find('malt_kafka_lag_records', labels)).toEqual([]); // never measured: nothing claimed
    expect(prom.find('malt_kafka_lag_age_seconds', labels)).toEqual([]);

    const a = heldWrites(createUpdateWritePath(s.redis, s.config));
    const runA = await bed.inProcess(s, 'worker-a', s.config, { writePath: a.writePath });
    await bed.until('a batch in the consumer\'s hand, not applied', () => a.held() > 0);
    await bed.until('the whole topic reported behind', async () => total(lagByPartition(await scrape(s.app), s)) === 41);
    prom = await scrape(s.app);
    expect(lagByPartition(prom, s).size).toBe(4);
    expect(prom.value('malt_kafka_lag_age_seconds', labels)).toBeLessThan(3);
    expect(prom.value('malt_kafka_lag_stale_partitions', labels)).toBe(0);
    expect(await recordedBy(s)).toEqual(['worker-a', 'worker-a', 'worker-a', 'worker-a']);

    a.open();
    await bed.until('every record served', async () => (await servedCount(s.app, first.expected)) === first.expected.size);
    await bed.until('lag 0 on every partition', async () => {
      const lags = lagByPartition(await scrape(s.app), s);
      return lags.size === 4 && total(lags) === 0;
    });
    await runA.stop();

    // Produced while no consumer runs: a consumer that joins reports what the group left, not the whole topic.
    const more = upserts(40, 20);
    bed.mock().produce(s.topic, more.records);
    const b = heldWrites(createUpdateWritePath(s.redis, s.config));
    const runB = await bed.inProcess(s, 'worker-b', s.config, { writePath: b.writePath });
    await bed.until('the 20 new records reported behind', async () => total(lagByPartition(await scrape(s.app), s)) === 20 && (await recordedBy(s)).every((c) => c === 'worker-b'));
    b.open();
    await bed.until('the new records served', async () => (await servedCount(s.app, more.expected)) === more.expected.size);
    await bed.until('lag 0 again', async () => total(lagByPartition(await scrape(s.app), s)) === 0);
    await runB.stop();

    // No consumer: the newest measurement ages, and after 3 lag_intervals its lags are not reported as if live.
    const age = (await scrape(s.app)).value('malt_kafka_lag_age_seconds', labels);
    await bed.until('the age growing', async () => (await scrape(s.app)).value('malt_kafka_lag_age_seconds', labels) > age + 1);
    await bed.until('every partition stale', async () => (await scrape(s.app)).value('malt_kafka_lag_stale_partitions', labels) === 4, 10_000);
    prom = await scrape(s.app);
    expect(prom.find('malt_kafka_lag_records', labels)).toEqual([]);
    expect(prom.value('malt_kafka_lag_age_seconds', labels)).toBeGreaterThan(3);
  }, 60_000);
});
