/**
 * Opens malt's Redis: the configured URL, or the embedded redis-server when none is set.
 * close() quits every connection it handed out, then stops the embedded server if this process
 * started it.
 */
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import { MaltError } from '../errors.js';
import { registerScripts } from '../store/lua-scripts.js';
import { type EmbeddedRedis, startEmbeddedRedis } from './embedded-redis.js';
import { type RedisTarget, connectRedis, createRedis, describeTarget } from './redis-client.js';
import type { Logger } from '../telemetry/logger.js';

export interface RedisHandle {
  readonly client: Redis;
  readonly target: RedisTarget;
  /** Another connection to the same Redis (pub/sub needs its own). */
  duplicate(): Redis;
  close(): Promise<void>;
}

export async function openRedis(config: MaltConfig, opts: { logger?: Logger; autoPipelining?: boolean } = {}): Promise<RedisHandle> {
  let embedded: EmbeddedRedis | null = null;
  let target: RedisTarget;
  if (config.redis.cluster.length > 0) {
    target = { url: null, cluster: config.redis.cluster };
  } else if (config.redis.url) {
    target = { url: config.redis.url };
  } else {
    embedded = await startEmbeddedRedis(config.redis.embeddedDir, opts.logger);
    target = { url: null, socketPath: embedded.socketPath };
  }
  const extra = { enableAutoPipelining: opts.autoPipelining ?? false };
  const client = createRedis(target, extra);
  try {
    await connectRedis(client);
  } catch (err) {
    client.disconnect();
    await embedded?.stop();
    throw new MaltError('STORE_UNAVAILABLE', `cannot connect to Redis at ${describeTarget(target)}: ${(err as Error).message}`);
  }
  registerScripts(client);
  const others: Redis[] = [];
  return {
    client,
    target,
    duplicate() {
      const c = createRedis(target, extra);
      others.push(c);
      return c;
    },
    async close() {
      for (const c of [...others, client]) {
        try {
          await Promise.race([c.quit(), new Promise((r) => setTimeout(r, 1000))]);
        } catch {
          /* already gone */
        }
        c.disconnect();
      }
      await embedded?.stop();
    },
  };
}
