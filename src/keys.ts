/**
 * The Redis key layout. This module is the only place that builds key strings; loaders, serving
 * and the CLI all go through it. P is redis.key_prefix (default "malt"), D a dataset name
 * ([a-z0-9_]), V a version id (a positive integer), B a bucket number, T a Kafka topic (no ':'),
 * G a Kafka consumer group.
 *
 *   key                    type    contents                                          lifetime
 *   P:{D}:seq              string  last version id handed out (INCR)                 forever
 *   P:{D}:current          string  "V:uid" of the version being served; uid is random  forever; flipped by publish.lua / rollback.lua
 *                                  per version, so replicas never confuse a reset
 *                                  Redis's new version V with an old one
 *   P:{D}:versions         zset    every version id that has keys in Redis, score=id until that version is reclaimed
 *   P:{D}:v:V              hash    the version's manifest: uid, state (loading|published|  until reclaimed
 *                                  failed|reclaiming), kind, buckets, columns (JSON),
 *                                  row_format, fingerprint, snapshot_id, source_version,
 *                                  source_as_of, source_format, source_files, source_bytes,
 *                                  rows, rejected, rejected_reasons, value_rejects,
 *                                  duplicates, checks, loaded_at, published_at,
 *                                  current_since, retired_at, rolled_back_at,
 *                                  duration_ms, error
 *                                  (docs/redis-layout.md; test/docs-consistency.test.ts)
 *   P:{D}:v:V:dict         string  the version's string dictionary (JSON array),      until reclaimed
 *                                  see row-codec.ts
 *   P:{D}:lock             string  loader lock token                                 PX lock_ttl_ms, renewed while loading
 *   P:d:D:V:B              hash    field = entity id, value = encoded row (bin1,     until version V is reclaimed
 *                                  row-codec.ts; segments: JSON array)
 *   P:u:{D:E}              hash    the update overlay of entity E in dataset D       PEXPIREAT newest event + updates.retention;
 *                                  (docs/updates.md): field c:<column> (by NAME) =   fields reclaimed once every kept version is newer
 *                                  "<event µs> <tie> <type>:<json>", field d = row
 *                                  tombstone "<event µs> 0 d", field s:<segment> =
 *                                  "<event µs> <0 add|1 remove> a|r"; written only
 *                                  by lua/apply-overlay.lua (last-write-wins)
 *   P:{D}:u:index          zset    member E, score = newest event time (ms) of E's    forever; members removed by overlay reclaim
 *                                  overlay: what reclaim and retention look at
 *   P:{D}:kafka_lag:T:G    hash    lag of Kafka topic T read by consumer group G      forever (tiny: one field per partition); a field
 *                                  (updates_kafka): field = partition number, value   older than 3 × its interval_ms is reported stale,
 *                                  = JSON {lag, at (ms), interval_ms, consumer},      not as a lag (redis-side-metrics.ts)
 *                                  written by malt consume on every lag measurement
 *                                  (kafkaLagField / parseKafkaLagField below)
 *   P:events               pubsub  "D V" after every publish or rollback;            —
 *                                  "u D\nE1\nE2…" after updates to entities E1, E2…
 *                                  (per-entity cache invalidation; ids hold no
 *                                  control characters, so \n separates them)
 *
 * Why buckets: one hash per bucket of ~BUCKET_TARGET entities instead of one key per entity.
 * Redis pays ~50–90 bytes of overhead per key, and small hashes are stored as compact
 * listpacks; the value is a compact binary row in the version's column order, so no field name
 * is stored per feature per player. The bucket of an entity is fnv1a(entity id) mod buckets, where buckets
 * is fixed per version (in its manifest), so reclaiming a version deletes P:d:D:V:0..buckets-1
 * without SCANning the keyspace.
 *
 * Redis Cluster: the metadata keys of a dataset share the hash tag {D}, so the Lua scripts that
 * touch several of them are single-slot. Data keys carry no tag and spread over the cluster;
 * every command on them is single-key. An entity's overlay is one key tagged {D:E}, so whatever is
 * added per entity later stays in its slot; a read of base row + overlay is two single-key
 * commands queued in the same batch (store/command-batch.ts): one round trip on a standalone
 * Redis, and on Cluster one pipeline per node, sent in parallel. A dataset with updates off
 * queues no overlay command at all.
 */

/** Target entities per bucket hash: under Redis's built-in hash-max-listpack-entries (128). */
export const BUCKET_TARGET = 100;

export class KeyLayout {
  readonly prefix: string;
  readonly events: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.events = `${prefix}:events`;
  }

  seq(dataset: string): string {
    return `${this.prefix}:{${dataset}}:seq`;
  }

  current(dataset: string): string {
    return `${this.prefix}:{${dataset}}:current`;
  }

  versions(dataset: string): string {
    return `${this.prefix}:{${dataset}}:versions`;
  }

  manifest(dataset: string, version: number): string {
    return `${this.prefix}:{${dataset}}:v:${version}`;
  }

  dictionary(dataset: string, version: number): string {
    return `${this.prefix}:{${dataset}}:v:${version}:dict`;
  }

  lock(dataset: string): string {
    return `${this.prefix}:{${dataset}}:lock`;
  }

  /** Prefix of a version's bucket keys; append the bucket number. */
  bucketPrefix(dataset: string, version: number): string {
    return `${this.prefix}:d:${dataset}:${version}:`;
  }

  bucket(dataset: string, version: number, bucket: number): string {
    return `${this.bucketPrefix(dataset, version)}${bucket}`;
  }

  /** Prefix of dataset D's overlay keys; append the entity id and "}" (overlay()). */
  overlayPrefix(dataset: string): string {
    return `${this.prefix}:u:{${dataset}:`;
  }

  /** The update overlay hash of one entity. */
  overlay(dataset: string, entityId: string): string {
    return `${this.prefix}:u:{${dataset}:${entityId}}`;
  }

  overlayIndex(dataset: string): string {
    return `${this.prefix}:{${dataset}}:u:index`;
  }

  /** The lag record of Kafka `topic` read by `group` into `dataset` (topic names hold no ':'; the group comes last). */
  kafkaLag(dataset: string, topic: string, group: string): string {
    return `${this.prefix}:{${dataset}}:kafka_lag:${topic}:${group}`;
  }
}

/** One partition's field value in a kafkaLag() hash: a lag measured at `at` (ms since the epoch) by `consumer`, every `intervalMs`. */
export interface KafkaLagEntry {
  readonly lag: number;
  readonly at: number;
  readonly intervalMs: number;
  readonly consumer: string;
}

export function kafkaLagField(e: KafkaLagEntry): string {
  return JSON.stringify({ lag: e.lag, at: e.at, interval_ms: e.intervalMs, consumer: e.consumer });
}

/** null when the value is not one kafkaLagField() wrote (an older or foreign writer): it is ignored, not guessed at. */
export function parseKafkaLagField(value: string): KafkaLagEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { lag, at, interval_ms: intervalMs, consumer } = v as Record<string, unknown>;
  const count = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (!count(lag) || !count(at) || !count(intervalMs) || intervalMs === 0) return null;
  return { lag, at, intervalMs, consumer: typeof consumer === 'string' ? consumer : '' };
}

/** Number of buckets for a version expected to hold `rows` entities. */
export function bucketCountFor(rows: number): number {
  return Math.max(1, Math.ceil(rows / BUCKET_TARGET));
}

/** 32-bit FNV-1a over the UTF-16 code units of the id: cheap, stable, and the same in every process. */
export function bucketOf(entityId: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < entityId.length; i++) {
    h ^= entityId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

/** Pub/sub message announcing that dataset D now serves version V. */
export function versionEvent(dataset: string, version: number): string {
  return `${dataset} ${version}`;
}

export function parseVersionEvent(message: string): { dataset: string; version: number } | null {
  const space = message.indexOf(' ');
  if (space <= 0) return null;
  const version = Number(message.slice(space + 1));
  return Number.isInteger(version) && version > 0 ? { dataset: message.slice(0, space), version } : null;
}

/** The current pointer's value: "V:uid". */
export function parseVersionPointer(value: string | null): { id: number; uid: string } | null {
  if (value === null) return null;
  const colon = value.indexOf(':');
  const id = Number(colon < 0 ? value : value.slice(0, colon));
  if (!Number.isInteger(id) || id <= 0) return null;
  return { id, uid: colon < 0 ? '' : value.slice(colon + 1) };
}

/** Pub/sub message announcing that entities `ids` of dataset D were updated. */
export function entityEvent(dataset: string, ids: readonly string[]): string {
  return `u ${dataset}\n${ids.join('\n')}`;
}

export function parseEntityEvent(message: string): { dataset: string; ids: string[] } | null {
  if (!message.startsWith('u ')) return null;
  const nl = message.indexOf('\n');
  if (nl < 0) return null;
  return { dataset: message.slice(2, nl), ids: message.slice(nl + 1).split('\n') };
}
