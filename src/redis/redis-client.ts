/**
 * Creates ioredis connections for malt — the one place that does (`new Redis`, `new Cluster`).
 * Commands never wait in an offline queue once the first connection is up: when Redis goes away,
 * a request fails fast (and the read path turns that into STORE_UNAVAILABLE) instead of piling up
 * behind a reconnect.
 *
 * A Redis Cluster client is handed out typed as `Redis`: ioredis's Cluster shares the command
 * API malt uses (commands, pipeline, multi, defineCommand, subscribe, duplicate, quit). The one
 * thing that differs — a pipeline must stay on one node — is handled in store/command-batch.ts,
 * which tells the two apart by `isCluster`; every other pipeline and script in malt touches one
 * `{D}` hash-tagged slot (keys.ts). docs/redis-cluster.md.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

export interface RedisTarget {
  /** redis:// or rediss:// URL, or null with `socketPath` or `cluster` set. */
  url: string | null;
  /** The embedded server's unix socket. */
  socketPath?: string;
  /** Seed nodes (host:port) of a Redis Cluster. */
  cluster?: readonly string[];
}

/** How long the cluster client waits between retries of a command refused during a failover or resharding (ms). */
export const CLUSTER_RETRY_DELAY_MS = 100;

export function createRedis(target: RedisTarget, extra: RedisOptions = {}): Redis {
  const base: RedisOptions = {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    ...extra,
  };
  if (target.cluster && target.cluster.length > 0) return createCluster(target.cluster, base);
  const client = target.url ? new Redis(target.url, base) : new Redis({ ...base, path: target.socketPath });
  // ioredis emits 'error' on every failed reconnect; the read path reports unavailability itself.
  client.on('error', () => undefined);
  return client;
}

function createCluster(seeds: readonly string[], base: RedisOptions): Redis {
  const { enableAutoPipelining, lazyConnect, retryStrategy: _nodeRetry, ...nodeOptions } = base;
  const options: ClusterOptions = {
    lazyConnect,
    enableAutoPipelining,
    enableOfflineQueue: true,
    redisOptions: nodeOptions,
    // Reads and writes go to masters: a replica may lag behind a publish.
    scaleReads: 'master',
    clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
    retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
    retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
    slotsRefreshTimeout: 2000,
  };
  const parsed = seeds.map(parseSeed);
  const auth = parsed[0];
  // Credentials and TLS come from the seeds (the config checks they agree) and apply to every
  // node the cluster reports, including nodes discovered later.
  if (auth?.username) options.redisOptions = { ...options.redisOptions, username: auth.username };
  if (auth?.password) options.redisOptions = { ...options.redisOptions, password: auth.password };
  if (auth?.tls) options.redisOptions = { ...options.redisOptions, tls: {} };
  const cluster = new Cluster(parsed.map(({ host, port }) => ({ host, port })), options);
  cluster.on('error', () => undefined);
  // Why the cast: see the header. Callers that must tell them apart test `isCluster`.
  return cluster as unknown as Redis;
}

interface ClusterSeed { host: string; port: number; username?: string; password?: string; tls: boolean }

/** `host:port`, or `redis://[user[:password]@]host:port` / `rediss://…` (TLS). */
export function parseSeed(seed: string): ClusterSeed {
  if (!seed.includes('://')) {
    const at = seed.lastIndexOf(':');
    return { host: seed.slice(0, at), port: Number(seed.slice(at + 1)), tls: false };
  }
  const u = new URL(seed);
  const out: ClusterSeed = { host: u.hostname, port: Number(u.port), tls: u.protocol === 'rediss:' };
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  return out;
}

/** A refusal by Redis itself that no retry fixes (bad credentials, missing ACL permission). */
const AUTH_REFUSAL = /^(NOAUTH|WRONGPASS|NOPERM)\b|ERR AUTH <password> called without any password|invalid password/;

/**
 * Connects and, once connected, stops queueing commands while disconnected. When Redis refuses the
 * credentials, ioredis only rejects with "Connection is closed"; the refusal it emitted as 'error'
 * (NOAUTH / WRONGPASS, text from Redis, never the password) is thrown instead.
 */
export async function connectRedis(client: Redis): Promise<void> {
  let refusal: Error | null = null;
  const onError = (err: Error): void => {
    if (AUTH_REFUSAL.test(err.message)) refusal = err;
  };
  client.on('error', onError);
  // A cluster reports each node's refusal as 'node error' and then only "None of startup nodes is available".
  if (client.isCluster) client.on('node error', onError);
  try {
    await client.connect();
  } catch (err) {
    const r = refusal as Error | null;
    throw r ? new Error(`Redis refused authentication: ${r.message}`, { cause: err }) : err;
  } finally {
    client.off('error', onError);
    if (client.isCluster) client.off('node error', onError);
  }
  client.options.enableOfflineQueue = false;
}

/** The client as a Cluster, or null for a standalone connection. */
export function asCluster(client: Redis): Cluster | null {
  return client.isCluster ? (client as unknown as Cluster) : null;
}

export function describeTarget(target: RedisTarget): string {
  if (target.cluster && target.cluster.length > 0) return `cluster ${target.cluster.map((s) => s.replace(/\/\/[^@/]*@/, '//***@')).join(',')}`;
  if (target.url) return target.url.replace(/\/\/[^@/]*@/, '//***@');
  return `unix:${target.socketPath ?? '?'}`;
}
