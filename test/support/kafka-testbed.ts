/**
 * What the Kafka test files share (test/kafka-consume.test.ts, test/kafka-lag-metrics.test.ts): a
 * librdkafka mock cluster behind the version bridge (kafka-mock.ts) for the whole file, a loaded
 * features dataset consumed from a fresh topic with a serving app, in-process consumers and
 * `malt consume` children, and the waits and offsets the tests check. Everything started is
 * stopped after the file's tests, and the suite fails if the bridge met a request it could not
 * translate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Consumer } from '@platformatic/kafka';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';
import { stringify } from 'yaml';
import type { ServingApp } from '../../src/app.js';
import type { MaltConfig } from '../../src/config.js';
import type { KafkaConsumerRun } from '../../src/consume/kafka-consumer.js';
import { type KafkaStartOptions, startKafkaConsumers } from '../../src/consume/kafka-start.js';
import { lineLogger } from '../../src/telemetry/logger.js';
import { createUpdateWritePath } from '../../src/updates/write-path.js';
import { MALT_BIN } from './cli-runner.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, redisUrl, serve, tmpDir, uniquePrefix, writePlayers } from './fixtures.js';
import { type KafkaMock, startKafkaMock } from './kafka-mock.js';
import { levels } from './served-levels.js';

export const T0 = Date.parse('2030-01-01T00:00:00Z'); // after the load's as-of time: updates win
export const at = (ms: number): string => new Date(T0 + ms).toISOString();

export interface Setup { dir: string; prefix: string; topic: string; group: string; config: MaltConfig; doc: Record<string, unknown>; app: ServingApp; redis: Redis }

export interface Child { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> }

export interface KafkaTestbed {
  /** The mock (started before the file's tests). */
  readonly mock: () => KafkaMock;
  /** Polls `ok` every 50 ms; on timeout throws with the in-process consumers' last log lines. */
  until(what: string, ok: () => Promise<boolean> | boolean, ms?: number): Promise<void>;
  /** A loaded features dataset `players` (p0–p9) consumed from a fresh topic (4 partitions, one record on it), and a serving app. */
  setup(kafka?: Record<string, unknown>): Promise<Setup>;
  /** A consumer started in this process as `malt consume` starts it (startKafkaConsumers); `overrides` replace its options. */
  inProcess(s: Setup, name: string, config?: MaltConfig, overrides?: Partial<KafkaStartOptions>): Promise<KafkaConsumerRun>;
  /** A `malt consume` child process with the setup's config. */
  consumeCli(s: Setup, name: string): Child;
}

/** `count` upserts of e<start>…: the key carries the id on odd ones, the JSON on even ones. */
export function upserts(start: number, count: number): { records: { key?: string; value: string }[]; expected: Map<string, string> } {
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

/** How many of `expected` (id → level) are served with exactly that level. */
export async function servedCount(app: ServingApp, expected: ReadonlyMap<string, string>): Promise<number> {
  const got = await levels(app, [...expected.keys()]);
  let n = 0;
  for (const [id, level] of expected) if (got.get(id) === level) n++;
  return n;
}

/** The group's committed offsets and the topic's end offsets, per partition (a client of its own). */
export async function offsets(mock: KafkaMock, topic: string, group: string): Promise<{ committed: bigint[]; end: bigint[] }> {
  const c = new Consumer({ clientId: 'malt-test', groupId: group, bootstrapBrokers: mock.bootstrap, timeout: 5000 });
  try {
    const committed = (await c.listCommittedOffsets({ topics: [{ topic, partitions: [0, 1, 2, 3] }] })).get(topic) ?? [];
    const end = (await c.listOffsets({ topics: [topic] })).get(topic) ?? [];
    return { committed: [...committed], end: [...end] };
  } finally {
    await c.close();
  }
}

/** Registers the file's beforeAll/afterAll; `bootTopic` is created with the mock. */
export function kafkaTestbed(bootTopic: string): KafkaTestbed {
  const apps = appsClosedAfterAll();
  const clients: Redis[] = [];
  const runs: KafkaConsumerRun[] = [];
  const children: ChildProcess[] = [];
  const logLines: string[] = [];
  let mock: KafkaMock | undefined;

  beforeAll(async () => {
    mock = await startKafkaMock(bootTopic);
  }, 30_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const r of runs) await r.stop();
    for (const c of clients) c.disconnect();
    if (!mock) return;
    expect(mock.bridge.errors).toEqual([]); // every request the client sent was translated
    await mock.close();
  }, 30_000);

  const theMock = (): KafkaMock => {
    if (!mock) throw new Error('the Kafka mock is not started (kafkaTestbed() must be called at the top of the file)');
    return mock;
  };

  return {
    mock: theMock,
    async until(what, ok, ms = 30_000) {
      const deadline = Date.now() + ms;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; consumer log:\n${logLines.filter((l) => !l.includes('kafka lag')).slice(-40).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async setup(kafka = {}) {
      const m = theMock();
      const dir = tmpDir();
      const prefix = uniquePrefix();
      const topic = `${prefix.replace(/[^A-Za-z0-9]/g, '-')}-updates`;
      const group = `${topic}-group`;
      writePlayers(path.join(dir, 'players.parquet'), Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, ltv: i, level: i, country: 'US', is_payer: false, last_login: null, tags: null })));
      const doc = {
        redis: { url: redisUrl(), key_prefix: prefix },
        datasets: [featuresDataset('players', path.join(dir, 'players.parquet'), {
          updates: { enabled: true },
          updates_kafka: { brokers: m.bootstrap, topic, group, batch_size: 50, max_wait_ms: 100, session_timeout_ms: 6000, lag_interval: 1000, lag_log_interval: 1000, ...kafka },
        })],
      };
      m.produce(topic, [{ key: 'p0', value: JSON.stringify({ op: 'upsert', values: { country: 'FR' }, event_time: at(0) }) }]); // creates the topic (4 partitions)
      const config = makeConfig(doc, { prefix, url: redisUrl() });
      await load(config, 'players');
      const app = await serve(config);
      apps.push(app);
      const redis = new Redis(redisUrl());
      clients.push(redis);
      return { dir, prefix, topic, group, config, doc, app, redis };
    },
    async inProcess(s, name, config = s.config, overrides = {}) {
      const logger = lineLogger((line) => logLines.push(`${new Date().toISOString()} ${name} ${line}`));
      const [run] = await startKafkaConsumers(config, [], { redis: s.redis, writePath: createUpdateWritePath(s.redis, config), consumer: name, logger, ...overrides });
      runs.push(run as KafkaConsumerRun);
      return run as KafkaConsumerRun;
    },
    consumeCli(s, name) {
      const file = path.join(s.dir, `${name}.yaml`);
      writeFileSync(file, stringify(s.doc));
      const proc = spawn(process.execPath, [MALT_BIN, 'consume', '-c', file, '--consumer', name], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(proc);
      let err = '';
      proc.stderr?.on('data', (d) => (err += d));
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
      return { proc, stderr: () => err, exited };
    },
  };
}
