/**
 * Metrics read from Redis at scrape time, so that one scrape of any `malt serve` replica shows
 * what the one-shot and separate processes did: loads (`malt load` / `malt sync` record every
 * load in its version manifest, store/snapshot-store.ts), the updates streams `malt consume`
 * reads (consumer-group lag, pending and dead-lettered entries) and the Kafka lag its consumers
 * record (consume/kafka-lag.ts). Nothing here runs per request.
 */
import type { Redis } from 'ioredis';
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';
import { parseKafkaLagField } from '../keys.js';
import type { VersionManifest } from '../model/version-manifest.js';
import { metrics } from './metrics.js';

export interface StreamToWatch {
  readonly dataset: string;
  readonly stream: string;
  readonly deadLetterStream: string | null;
}

export interface KafkaLagToWatch {
  readonly dataset: string;
  readonly topic: string;
  readonly group: string;
  /** KeyLayout.kafkaLag(dataset, topic, group). */
  readonly key: string;
}

export interface RedisSideSource {
  readonly datasets: readonly string[];
  /** Every version of `dataset` with keys in Redis, newest first (SnapshotStore.listVersions). */
  readonly listVersions: (dataset: string) => Promise<VersionManifest[]>;
  readonly redis: Redis;
  readonly streams: readonly StreamToWatch[];
  readonly group: string;
  readonly kafka: readonly KafkaLagToWatch[];
  /** A Kafka lag record, partition → field value (store/kafka-lag-store.ts readKafkaLag). */
  readonly readKafkaLag: (key: string) => Promise<Record<string, string>>;
}

const OUTCOMES = ['published', 'refused', 'failed', 'loading'] as const;
type Outcome = (typeof OUTCOMES)[number];

/** A failed version was refused when its recorded error code is a 422 one (gates, schema, source), as `malt load` exits 3. */
function outcomeOf(m: VersionManifest): Outcome | null {
  if (m.state === 'published') return 'published';
  if (m.state === 'loading') return 'loading';
  if (m.state !== 'failed') return null;
  const code = /^([A-Z_]+):/.exec(m.error ?? '')?.[1] as ErrorCode | undefined;
  const refused = m.checks.length > 0 || (code !== undefined && ERROR_CATALOG[code]?.http === 422);
  return refused ? 'refused' : 'failed';
}

const seconds = (iso: string | null): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : null;
};

export async function collectLoads(src: RedisSideSource): Promise<void> {
  for (const dataset of src.datasets) {
    const versions = await src.listVersions(dataset);
    let newest: { m: VersionManifest; outcome: Outcome } | null = null;
    let finished: VersionManifest | null = null;
    let refused = 0;
    for (const m of versions) {
      const outcome = outcomeOf(m);
      if (outcome === null) continue;
      newest ??= { m, outcome };
      if (outcome === 'refused') refused++;
      if (finished === null && outcome !== 'loading') finished = m;
    }
    metrics.loadRefusedVersions.labels(dataset).set(refused);
    if (newest) {
      for (const o of OUTCOMES) metrics.loadLastOutcome.labels(dataset, o).set(o === newest.outcome ? 1 : 0);
      const at = seconds(newest.m.loadedAt);
      if (at !== null) metrics.loadLastTimestamp.labels(dataset).set(at);
    }
    if (finished) {
      metrics.loadDuration.labels(dataset).set(finished.durationMs / 1000);
      metrics.loadRows.labels(dataset).set(finished.rows);
      metrics.loadRejectedRows.labels(dataset).set(finished.rejected);
    }
  }
}

/** Stream entry ids are `<ms>-<seq>`. */
const idMs = (id: string): number => Number(id.slice(0, id.indexOf('-')));

function field(info: unknown[], name: string): unknown {
  for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === name) return info[i + 1];
  return undefined;
}

export async function collectStreams(src: RedisSideSource): Promise<void> {
  for (const s of src.streams) {
    const labels = [s.dataset, s.stream, src.group] as const;
    if (s.deadLetterStream) metrics.streamDeadLetters.labels(s.dataset, s.deadLetterStream).set(await src.redis.xlen(s.deadLetterStream));
    let groups: unknown[][];
    try {
      groups = (await src.redis.xinfo('GROUPS', s.stream)) as unknown[][];
    } catch (err) {
      // No stream yet (nothing was ever appended): nothing is behind.
      if (/no such key/i.test((err as Error).message)) continue;
      throw err;
    }
    const g = groups.find((x) => field(x, 'name') === src.group);
    if (!g) continue;
    const lastDelivered = String(field(g, 'last-delivered-id') ?? '0-0');
    metrics.streamPending.labels(...labels).set(Number(field(g, 'pending') ?? 0));
    // The oldest entry not yet delivered to the group: its age is how far behind consumption is.
    const next = (await src.redis.xrange(s.stream, `(${lastDelivered}`, '+', 'COUNT', 1))[0];
    const lag = field(g, 'lag');
    metrics.streamLag.labels(...labels).set(typeof lag === 'number' ? lag : next ? 1 : 0);
    metrics.streamLagSeconds.labels(...labels).set(next ? Math.max(0, (Date.now() - idMs(next[0])) / 1000) : 0);
  }
}

/** A partition measured longer ago than this many of its consumer's lag_interval has no live consumer. */
export const KAFKA_LAG_STALE_INTERVALS = 3;

/** Partitions exported per Kafka lag key at the previous scrape: the ones not fresh now are removed. */
const kafkaExported = new Map<string, Set<string>>();

export async function collectKafkaLag(src: RedisSideSource, now = Date.now()): Promise<void> {
  for (const k of src.kafka) {
    const record = await src.readKafkaLag(k.key);
    const fresh = new Set<string>();
    let newest = -Infinity;
    let stale = 0;
    for (const [partition, value] of Object.entries(record)) {
      const e = parseKafkaLagField(value);
      if (e === null) continue;
      newest = Math.max(newest, e.at);
      // A dead consumer's last lag would look frozen and healthy: report the partition stale instead.
      if (now - e.at > KAFKA_LAG_STALE_INTERVALS * e.intervalMs) {
        stale++;
        continue;
      }
      fresh.add(partition);
      metrics.kafkaLag.labels(k.dataset, k.topic, k.group, partition).set(e.lag);
    }
    for (const p of kafkaExported.get(k.key) ?? []) if (!fresh.has(p)) metrics.kafkaLag.remove(k.dataset, k.topic, k.group, p);
    kafkaExported.set(k.key, fresh);
    // No measurement ever recorded (no consumer has run, or the record was deleted): nothing to say,
    // as for a stream never appended to.
    if (newest === -Infinity) {
      metrics.kafkaLagAge.remove(k.dataset, k.topic, k.group);
      metrics.kafkaLagStale.remove(k.dataset, k.topic, k.group);
      continue;
    }
    metrics.kafkaLagAge.labels(k.dataset, k.topic, k.group).set(Math.max(0, (now - newest) / 1000));
    metrics.kafkaLagStale.labels(k.dataset, k.topic, k.group).set(stale);
  }
}

/** Runs the Redis-side collection, bounded by `timeoutMs`; a failure is counted, not thrown (the scrape still answers). */
export async function collectRedisSide(src: RedisSideSource, timeoutMs: number): Promise<void> {
  const part = async (name: string, fn: () => Promise<void>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([fn(), new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), timeoutMs); })]);
    } catch {
      metrics.scrapeErrors.labels(name).inc();
    } finally {
      clearTimeout(timer);
    }
  };
  await Promise.all([part('loads', () => collectLoads(src)), part('streams', () => collectStreams(src)), part('kafka', () => collectKafkaLag(src))]);
}
