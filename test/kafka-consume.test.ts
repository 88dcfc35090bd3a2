/**
 * `malt consume` from Kafka (updates_kafka) against librdkafka's mock cluster, started by
 * Debian's kcat (test/support/kafka-mock.ts), reached through the protocol-version bridge
 * (test/support/kafka-bridge.ts): records → served values over HTTP, dead letters (Redis stream
 * and topic) with reasons, offsets committed after the write and on SIGTERM (exit 0), a consumer
 * SIGKILLed mid-stream and a restarted one losing nothing (counted), a second consumer in the
 * group taking over partitions and giving them back when it leaves.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.js';
import { kafkaConnection } from '../src/consume/kafka-client-options.js';
import { kafkaDatasets } from '../src/consume/kafka-consumer.js';
import { parseKafkaRecord } from '../src/consume/kafka-record.js';
import { KeyLayout, parseKafkaLagField } from '../src/keys.js';
import { levels } from './support/served-levels.js';
import { featuresDataset, makeConfig, redisUrl } from './support/fixtures.js';
import { T0, at, kafkaTestbed, offsets, servedCount, upserts } from './support/kafka-testbed.js';

const bed = kafkaTestbed('malt-boot');
const { until, setup, inProcess, consumeCli } = bed;

describe('kafka records', () => {
  const rec = (value: string | null, key: string | null = null, timestamp = BigInt(T0 + 7)) => ({
    topic: 't', partition: 2, offset: 41n, key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp,
  });
  const reason = (value: string | null, key: string | null = null): string => {
    const p = parseKafkaRecord(rec(value, key));
    return p.ok ? 'ok' : `${p.code}: ${p.message}`;
  };

  it('decode into write-path items: entity id from the JSON or the record key, values as an object, event time defaulting to the record timestamp', () => {
    expect(parseKafkaRecord(rec(JSON.stringify({ op: 'upsert', values: { level: '3' } }), 'p1'))).toMatchObject({
      ok: true, id: '2-41', item: { entity_id: 'p1', op: 'upsert', values: { level: '3' }, event_time: at(7) },
    });
    expect(parseKafkaRecord(rec(JSON.stringify({ entity_id: 42, op: 'add', segment: 'whale', event_time: at(1) })))).toMatchObject({ ok: true, item: { entity_id: '42', op: 'add', segment: 'whale', event_time: at(1) } });
    expect(parseKafkaRecord(rec(JSON.stringify({ entity_id: 'p1', op: 'upsert', values: '{"ltv":2}' }), 'p1'))).toMatchObject({ ok: true, item: { values: { ltv: 2 } } });
    expect(parseKafkaRecord(rec(JSON.stringify({ op: 'delete' }), 'p9'))).toMatchObject({ ok: true, item: { entity_id: 'p9', op: 'delete' } });
  });

  it('a malformed record has the reason, with the same rules as a stream entry', () => {
    expect(reason(null)).toMatch(/UPDATE_INVALID: record has no value/);
    expect(reason('{"op":')).toMatch(/not valid JSON/);
    expect(reason('[1,2]')).toMatch(/must be a JSON object, got an array/);
    expect(reason(JSON.stringify({ op: 'upsert', values: {} }))).toMatch(/missing "entity_id"/);
    expect(reason(JSON.stringify({ entity_id: 'a', op: 'delete' }), 'b')).toMatch(/"entity_id" "a" differs from the record key "b"/);
    expect(reason(JSON.stringify({ entity_id: 'a', op: 'merge' }))).toMatch(/unknown op "merge"/);
    expect(reason(JSON.stringify({ entity_id: 'a', op: 'upsert', values: [1] }))).toMatch(/"values" must be a JSON object/);
    expect(reason(JSON.stringify({ entity_id: 'a', op: 'delete', event_time: 5 }))).toMatch(/"event_time" must be a string/);
    expect(reason(JSON.stringify({ entity_id: 'a', op: 'delete', event_time: 'yesterday' }))).toMatch(/RFC 3339/);
  });

  it('config: updates must be enabled, one topic+group per dataset, TLS files and SASL secrets checked before connecting', () => {
    const ds = (name: string, extra: Record<string, unknown>) => featuresDataset(name, '/nowhere', extra);
    const kafka = { brokers: '127.0.0.1:9092, 127.0.0.1:9093', topic: 'scores' };
    expect(() => kafkaDatasets(makeConfig({ datasets: [ds('a', { updates_kafka: kafka })] }))).toThrow(/updates.enabled: true/);
    expect(() => kafkaDatasets(makeConfig({ datasets: [ds('a', { updates: { enabled: true }, updates_kafka: kafka }), ds('b', { updates: { enabled: true }, updates_kafka: kafka })] }))).toThrow(/same Kafka topic "scores" with the same group "malt"/);
    const cfg = makeConfig({ consume: { group: 'g1' }, datasets: [ds('a', { updates: { enabled: true }, updates_kafka: kafka })] });
    const [a] = kafkaDatasets(cfg);
    expect(a).toMatchObject({ dataset: 'a', group: 'g1', settings: { brokers: ['127.0.0.1:9092', '127.0.0.1:9093'], topic: 'scores', deadLetterTopic: null, deadLetterStream: 'scores:dead', tls: null, sasl: null } });
    expect(() => makeConfig({ datasets: [ds('a', { updates_kafka: { topic: 'x', brokers: ['nope'] } })] })).toThrow(/host:port/);
    const secured = makeConfig({ datasets: [ds('a', { updates: { enabled: true }, updates_kafka: { ...kafka, tls: { ca: '/nonexistent/ca.pem' }, sasl: { mechanism: 'SCRAM-SHA-512', username: 'malt' } } })] });
    const k = secured.datasets[0]?.updatesKafka;
    expect(k?.tls).toMatchObject({ ca: '/nonexistent/ca.pem', rejectUnauthorized: true });
    expect(() => kafkaConnection('a', k as NonNullable<typeof k>, {})).toThrow(/cannot read \/nonexistent\/ca.pem.*MALT_KAFKA_PASSWORD is not set/);
    const plain = makeConfig({ datasets: [ds('a', { updates: { enabled: true }, updates_kafka: { ...kafka, sasl: { mechanism: 'PLAIN', username: 'u', password_env: 'KPW' } } })] }).datasets[0]?.updatesKafka;
    expect(kafkaConnection('a', plain as NonNullable<typeof plain>, { KPW: 's3cret' })).toEqual({ clientId: 'malt', bootstrapBrokers: ['127.0.0.1:9092', '127.0.0.1:9093'], sasl: { mechanism: 'PLAIN', username: 'u', password: 's3cret' } });
  });
});

describe('docker-compose.kafka.yml', () => {
  it('runs apache/kafka in KRaft mode published on loopback only, and a consume-kafka service whose config passes malt\'s validation', () => {
    const compose = parse(readFileSync('docker-compose.kafka.yml', 'utf8')) as { services: Record<string, { image?: string; environment?: Record<string, unknown>; ports?: string[]; command?: string[]; volumes?: string[]; depends_on?: Record<string, unknown> }> };
    const kafka = compose.services['kafka'];
    expect(kafka?.image).toMatch(/^apache\/kafka:\d/);
    expect(kafka?.environment?.['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    for (const port of kafka?.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    const consume = compose.services['consume-kafka'];
    expect(consume?.command?.slice(0, 3)).toEqual(['node', 'bin/malt.js', 'consume']);
    expect(Object.keys(consume?.depends_on ?? {}).sort()).toEqual(['kafka', 'redis']);
    const mount = (consume?.volumes ?? []).find((v) => v.includes('malt-kafka.yaml'))?.split(':')[0] as string;
    const cfg = loadConfig({ path: mount, env: { REDIS_URL: 'redis://redis:6379' } });
    const k = cfg.datasets.find((d) => d.name === 'player_features')?.updatesKafka;
    expect(k).toMatchObject({ brokers: ['kafka:9092'], topic: 'player-scores', deadLetterTopic: 'player-scores-dead' });
    expect(kafkaDatasets(cfg, ['player_features'])).toHaveLength(1);
  });
});

describe('malt consume from Kafka (librdkafka mock cluster)', () => {
  it('applies every record (served over HTTP), dead-letters malformed ones to the Redis stream with reasons, and on SIGTERM exits 0 with every offset committed', async () => {
    const s = await setup();
    const { records, expected } = upserts(0, 300);
    const bad = [
      { key: 'p1', value: '{"op": "upsert", ' },
      { value: JSON.stringify({ entity_id: 'p2', op: 'merge' }) },
      { value: JSON.stringify({ entity_id: 'p3', op: 'upsert', values: { ltv: 'lots' }, event_time: at(1) }) },
    ];
    bed.mock().produce(s.topic, [...records.slice(0, 150), ...bad, ...records.slice(150)]);
    const c = consumeCli(s, 'worker-1');
    await until('every record served', async () => (await servedCount(s.app, expected)) === expected.size, 40_000);
    expect((await levels(s.app, ['p3'])).get('p3')).toBe('3'); // the refused upsert changed nothing
    await until('three dead letters', async () => (await s.redis.xlen(`${s.topic}:dead`)) === 3);
    await until('offsets committed', async () => {
      const o = await offsets(bed.mock(), s.topic, s.group);
      return o.end.length === 4 && o.end.every((e, p) => o.committed[p] === e);
    });
    await until('a lag line', () => /kafka lag players ← \S+: p\d=0 p\d=0 p\d=0 p\d=0/.test(c.stderr()));
    // …and the same measurements recorded in Redis for the serving replicas' metrics (kafka-lag-metrics.test.ts).
    const lagRecord = await s.redis.hgetall(new KeyLayout(s.prefix).kafkaLag('players', s.topic, s.group));
    expect(Object.keys(lagRecord).sort()).toEqual(['0', '1', '2', '3']);
    for (const v of Object.values(lagRecord)) expect(parseKafkaLagField(v)).toMatchObject({ lag: 0, intervalMs: 1000, consumer: 'worker-1' });
    c.proc.kill('SIGTERM');
    expect(await c.exited, c.stderr()).toBe(0);
    expect(c.stderr()).toMatch(/consume stopped dataset="players" topic="[^"]+" applied=301 dead_lettered=3/);
    const dead = ((await s.redis.xrange(`${s.topic}:dead`, '-', '+')) as [string, string[]][])
      .map(([, f]) => new Map(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i] as string, f[2 * i + 1] as string])));
    const reasons = dead.map((d) => `${d.get('dead_code')}: ${d.get('dead_reason')}`).sort();
    expect(reasons[0]).toMatch(/^INVALID_VALUE: .*ltv/);
    expect(reasons[1]).toMatch(/^UPDATE_INVALID: record value is not valid JSON/);
    expect(reasons[2]).toMatch(/^UPDATE_INVALID: unknown op "merge"/);
    for (const d of dead) {
      expect(d.get('dead_topic')).toBe(s.topic);
      expect(d.get('dead_partition')).toMatch(/^[0-3]$/);
      expect(d.get('dead_offset')).toMatch(/^\d+$/);
      expect(d.get('dead_consumer')).toBe('worker-1');
    }
    expect(dead.find((d) => d.get('key') === 'p1')?.get('value')).toBe('{"op": "upsert", '); // the original record, to replay
  }, 60_000);

  it('a consumer SIGKILLed mid-stream and a restarted one: every record applied, none lost (counted)', async () => {
    const s = await setup({ batch_size: 10 });
    const { records, expected } = upserts(0, 3000);
    bed.mock().produce(s.topic, records);
    const first = consumeCli(s, 'worker-1');
    await until('the first consumer applying', async () => (await servedCount(s.app, expected)) >= 100, 40_000);
    first.proc.kill('SIGKILL');
    await first.exited;
    const before = await servedCount(s.app, expected);
    expect(before).toBeLessThan(expected.size); // killed mid-stream
    const { committed } = await offsets(bed.mock(), s.topic, s.group);
    const second = consumeCli(s, 'worker-2');
    await until('every record served', async () => (await servedCount(s.app, expected)) === expected.size, 45_000);
    second.proc.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toBe(0);
    // The restarted consumer started from the committed offsets: it applied at least what was not committed.
    const committedTotal = committed.reduce((a, b) => a + (b > 0n ? Number(b) : 0), 0) - 1; // minus the setup record
    const applied = Number(/consume stopped .*? applied=(\d+)/.exec(second.stderr())?.[1]);
    expect(applied).toBeGreaterThanOrEqual(expected.size - committedTotal);
  }, 90_000);

  it('a second consumer in the group takes over partitions, both apply; when it leaves, the first takes them back; bad records reach the dead-letter topic', async () => {
    const s = await setup({ dead_letter_topic: 'placeholder' });
    const dlq = `${s.topic}-dead`;
    const doc = structuredClone(s.doc) as { datasets: { updates_kafka: Record<string, unknown> }[] };
    (doc.datasets[0] as { updates_kafka: Record<string, unknown> }).updates_kafka['dead_letter_topic'] = dlq;
    const config = makeConfig(doc, { prefix: s.prefix, url: redisUrl() });
    const a = await inProcess(s, 'a', config);
    await until('a owns every partition', () => a.assigned().length === 4);
    const b = await inProcess(s, 'b', config);
    await until('the partitions shared', () => b.assigned().length > 0 && a.assigned().length > 0 && a.assigned().length + b.assigned().length === 4);
    expect(new Set([...a.assigned(), ...b.assigned()])).toEqual(new Set([0, 1, 2, 3]));
    const one = upserts(0, 400);
    bed.mock().produce(s.topic, [...one.records, { key: 'p1', value: 'not json' }, { value: JSON.stringify({ entity_id: 'p2', op: 'upsert', values: { nope: 1 }, event_time: at(1) }) }]);
    await until('every record served', async () => (await servedCount(s.app, one.expected)) === one.expected.size);
    await until('both dead letters', () => a.stats.deadLettered + b.stats.deadLettered === 2);
    expect(a.stats.applied).toBeGreaterThan(0);
    expect(b.stats.applied).toBeGreaterThan(0);
    expect(a.stats.applied + b.stats.applied).toBeGreaterThanOrEqual(401);
    await b.stop(); // leaves the group
    await until('a owns every partition again', () => a.assigned().length === 4);
    const two = upserts(400, 200);
    bed.mock().produce(s.topic, two.records);
    await until('the later records served', async () => (await servedCount(s.app, two.expected)) === two.expected.size);
    expect((await a.lag()).every((l) => l.lag === 0)).toBe(true);
    const letters = bed.mock().readAll(dlq);
    expect(letters.map((l) => l.headers['dead_code']).sort()).toEqual(['UNKNOWN_COLUMN', 'UPDATE_INVALID']);
    const notJson = letters.find((l) => l.key === 'p1');
    expect(notJson?.value).toBe('not json');
    expect(notJson?.headers['dead_reason']).toMatch(/not valid JSON/);
    expect(notJson?.headers['dead_topic']).toBe(s.topic);
    expect(await s.redis.exists(`${s.topic}:dead`)).toBe(0); // the topic, not the stream
  }, 90_000);
});
