/**
 * Creates ioredis connections for malt. Commands never wait in an offline queue once the first
 * connection is up: when Redis goes away, a request fails fast (and the read path turns that into
 * STORE_UNAVAILABLE) instead of piling up behind a reconnect.
 */
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisTarget {
  /** redis:// or rediss:// URL, or null with `socketPath` set (the embedded server). */
  url: string | null;
  socketPath?: string;
}

export function createRedis(target: RedisTarget, extra: RedisOptions = {}): Redis {
  const base: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    ...extra,
  };
  const client = target.url ? new Redis(target.url, base) : new Redis({ ...base, path: target.socketPath });
  // ioredis emits 'error' on every failed reconnect; the read path reports unavailability itself.
  client.on('error', () => undefined);
  return client;
}

/** Connects and, once connected, stops queueing commands while disconnected. */
export async function connectRedis(client: Redis): Promise<void> {
  await client.connect();
  client.options.enableOfflineQueue = false;
}

export function describeTarget(target: RedisTarget): string {
  if (target.url) return target.url.replace(/\/\/[^@/]*@/, '//***@');
  return `unix:${target.socketPath ?? '?'}`;
}
