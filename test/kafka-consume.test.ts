/**
 * `malt consume` from Kafka (updates_kafka) against librdkafka's mock cluster, started by
 * Debian's kcat (test/support/kafka-mock.ts), reached through the protocol-version bridge
 * (test/support/kafka-bridge.ts): records → served values over HTTP, dead letters (Redis stream
 * and topic) with reasons, offsets committed after the write and on SIGTERM (exit 0), a consumer
 * SIGKILLed mid-stream and a restarted one losing nothing (counted), a second consumer in the
 * group taking over partitions and giving them back when it leaves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Consumer } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ServingApp } from '../src/app.js';
import { type MaltConfig, loadConfig } from '../src/config.js';
import { kafkaConnection } from '../src/consume/kafka-client-options.js';
import type { KafkaConsumerRun } from '../src/consume/kafka-consumer.js';
import { kafkaDatasets } from '../src/consume/kafka-consumer.js';
import { parseKafkaRecord } from '../src/consume/kafka-record.js';
import { startKafkaConsumers } from '../src/consume/kafka-start.js';
import { lineLogger } from '../src/telemetry/logger.js';
import { createUpdateWritePath } from '../src/updates/write-path.js';
import { levels } from './support/served-levels.js';
import { MALT_BIN } from './support/cli-runner.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, redisUrl, serve, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';
import { type KafkaMock, startKafkaMock } from './support/kafka-mock.js';

const apps = appsClosedAfterAll();
const clients: Redis[] = [];
const runs: KafkaConsumerRun[] = [];
const children: ChildProcess[] = [];
let mock: KafkaMock;
/** Lines the in-process consumers log (shown when a test fails). */
const logLines: string[] = [];

beforeAll(async () => {
  mock = await startKafkaMock('malt-boot');
}, 30_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of runs) await r.stop();
  for (const c of clients) c.disconnect();
  expect(mock.bridge.errors).toEqual([]); // every request the client sent was translated
  await mock.close();
}, 30_000);

const T0 = Date.parse('2030-01-01T00:00:00Z'); // after the load's as-of time: updates win
const at = (ms: number): string => new Date(T0 + ms).toISOString();

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; consumer log:\n${logLines.filter((l) => !l.includes("kafka lag")).slice(-40).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Setup { dir: string; prefix: string; topic: string; group: string; config: MaltConfig; doc: Record<string, unknown>; app: ServingApp; redis: Redis }

/** A loaded features dataset (p0–p9) consumed from a fresh topic, and a serving app. */
async function setup(kafka: Record<string, unknown> = {}): Promise<Setup> {
  const dir = tmpDir();
  const prefix = uniquePrefix();
  const topic = `${prefix.replace(/[^A-Za-z0-9]/g, '-')}-updates`;
  const group = `${topic}-group`;
  writePlayers(path.join(dir, 'players.parquet'), Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, ltv: i, level: i, country: 'US', is_payer: false, last_login: null, tags: null })));
  const doc = {
    redis: { url: redisUrl(), key_prefix: prefix },
    datasets: [featuresDataset('players', path.join(dir, 'players.parquet'), {
      updates: { enabled: true },
      updates_kafka: { brokers: mock.bootstrap, topic, group, batch_size: 50, max_wait_ms: 100, session_timeout_ms: 6000, lag_log_interval: 1000, ...kafka },
    })],
  };
  mock.produce(topic, [{ key: 'p0', value: JSON.stringify({ op: 'upsert', values: { country: 'FR' }, event_time: at(0) }) }]); // creates the topic (4 partitions)
  const config = makeConfig(doc, { prefix, url: redisUrl() });
  await load(config, 'players');
  const app = await serve(config);
  apps.push(app);
  const redis = new Redis(redisUrl());
  clients.push(redis);
  return { dir, prefix, topic, group, config, doc, app, redis };
}

/** How many of `expected` (id → level) are served with exactly that level. */
async function servedCount(app: ServingApp, expected: ReadonlyMap<string, string>): Promise<number> {
  const got = await levels(app, [...expected.keys()]);
  let n = 0;
  for (const [id, level] of expected) if (got.get(id) === level) n++;
  return n;
}

/** `count` upserts of e<start>…: the key carries the id on odd ones, the JSON on even ones. */
function upserts(start: number, count: number): { records: { key?: string; value: string }[]; expected: Map<string, string> } {
  const records: { key?: string; value: string }[] = [];
  const expected = new Map<string, string>();
  for (let i = start; i < start + count; i++) {
    const id = `e${i}`;
    expected.set(id, String(1000 + i));
    const values = { level: String(1000 + i) };
    records.push(i % 2 === 1 ? { key: id, value: JSON.stringify({ op: 'upsert', values, event_time: at(i) }) } : { value: JSON.stringify({ entity_id: id, op: 'upsert', values, event_time: at(i) }) });
  }
  return { records, expected };
}

/** The group's committed offsets and the topic's end offsets, per partition (a client of its own). */
async function offsets(topic: string, group: string): Promise<{ committed: bigint[]; end: bigint[] }> {
  const c = new Consumer({ clientId: 'malt-test', groupId: group, bootstrapBrokers: mock.bootstrap, timeout: 5000 });
  try {
    const committed = (await c.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3] }] })).get(topic) ?? [];
    const end = (await c.listOffsets({ topics: [topic] })).get(topic) ?? [];
    return { committed: [...committed], end: [...end] };
  } finally {
    await c.close();
  }
}

interface Child { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> }

function consumeCli(s: Setup, name: string): Child {
  const file = path.join(s.dir, `${name}.yaml`);
  writeFileSync(file, stringify(s.doc));
  const proc = spawn(process.execPath, [MALT_BIN, 'consume', '-c', file, '--consumer', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(proc);
  let err = '';
  proc.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, stderr: () => err, exited };
}

async function inProcess(s: Setup, name: string, config: MaltConfig = s.config): Promise<KafkaConsumerRun> {
  const logger = lineLogger((line) => logLines.push(`${new Date().toISOString()} ${name} ${line}`));
  const [run] = await startKafkaConsumers(config, [], { redis: s.redis, writePath: createUpdateWritePath(s.redis, config), consumer: name, logger });
  runs.push(run as KafkaConsumerRun);
  return run as KafkaConsumerRun;
}

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
    mock.produce(s.topic, [...records.slice(0, 150), ...bad, ...records.slice(150)]);
    const c = consumeCli(s, 'worker-1');
    await until('every record served', async () => (await servedCount(s.app, expected)) === expected.size, 40_000);
    expect((await levels(s.app, ['p3'])).get('p3')).toBe('3'); // the refused upsert changed nothing
    await until('three dead letters', async () => (await s.redis.xlen(`${s.topic}:dead`)) === 3);
    await until('offsets committed', async () => {
      const o = await offsets(s.topic, s.group);
      return o.end.length === 4 && o.end.every((e, p) => o.committed[p] === e);
    });
    await until('a lag line', () => /kafka lag players ← \S+: p\d=0 p\d=0 p\d=0 p\d=0/.test(c.stderr()));
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
    mock.produce(s.topic, records);
    const first = consumeCli(s, 'worker-1');
    await until('the first consumer applying', async () => (await servedCount(s.app, expected)) >= 100, 40_000);
    first.proc.kill('SIGKILL');
    await first.exited;
    const before = await servedCount(s.app, expected);
    expect(before).toBeLessThan(expected.size); // killed mid-stream
    const { committed } = await offsets(s.topic, s.group);
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
    mock.produce(s.topic, [...one.records, { key: 'p1', value: 'not json' }, { value: JSON.stringify({ entity_id: 'p2', op: 'upsert', values: { nope: 1 }, event_time: at(1) }) }]);
    await until('every record served', async () => (await servedCount(s.app, one.expected)) === one.expected.size);
    await until('both dead letters', () => a.stats.deadLettered + b.stats.deadLettered === 2);
    expect(a.stats.applied).toBeGreaterThan(0);
    expect(b.stats.applied).toBeGreaterThan(0);
    expect(a.stats.applied + b.stats.applied).toBeGreaterThanOrEqual(401);
    await b.stop(); // leaves the group
    await until('a owns every partition again', () => a.assigned().length === 4);
    const two = upserts(400, 200);
    mock.produce(s.topic, two.records);
    await until('the later records served', async () => (await servedCount(s.app, two.expected)) === two.expected.size);
    expect((await a.lag()).every((l) => l.lag === 0)).toBe(true);
    const letters = mock.readAll(dlq);
    expect(letters.map((l) => l.headers['dead_code']).sort()).toEqual(['UNKNOWN_COLUMN', 'UPDATE_INVALID']);
    const notJson = letters.find((l) => l.key === 'p1');
    expect(notJson?.value).toBe('not json');
    expect(notJson?.headers['dead_reason']).toMatch(/not valid JSON/);
    expect(notJson?.headers['dead_topic']).toBe(s.topic);
    expect(await s.redis.exists(`${s.topic}:dead`)).toBe(0); // the topic, not the stream
  }, 90_000);
});
