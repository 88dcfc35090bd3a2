/**
 * The Kafka lag records (keys.ts kafkaLag(): one hash per dataset, topic and group, a field per
 * partition in kafkaLagField's format): `malt consume` writes them, the serving replicas'
 * redis-side metrics read them. Not a data key; it lives here because every hash command does.
 */
import type { Redis } from 'ioredis';

/** Writes every `[partition, fieldValue]` pair in one HSET. */
export async function writeKafkaLag(redis: Redis, key: string, fields: readonly (readonly [string, string])[]): Promise<void> {
  if (fields.length === 0) return;
  await redis.hset(key, ...fields.flat());
}

/** The whole record: partition → field value. */
export function readKafkaLag(redis: Redis, key: string): Promise<Record<string, string>> {
  return redis.hgetall(key);
}
