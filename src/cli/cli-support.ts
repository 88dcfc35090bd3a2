/**
 * Shared by the CLI commands: logging, the error → exit-code rule, config loading, and a
 * short-lived Redis connection for admin commands.
 */
import { Option } from 'commander';
import { type MaltConfig, loadConfig } from '../config.js';
import { toMaltError } from '../errors.js';
import { KeyLayout } from '../keys.js';
import { openRedis } from '../redis/redis-handle.js';
import { SnapshotStore } from '../store/snapshot-store.js';

export const log = (msg: string): void => console.error(`${new Date().toISOString()} ${msg}`);

/** Prints "error CODE: message" and exits: 2 for an invalid config, 1 otherwise. */
export function fail(err: unknown): never {
  const e = toMaltError(err);
  console.error(`error ${e.code}: ${e.message}`);
  process.exit(e.code === 'CONFIG_INVALID' ? 2 : 1);
}

export function configOption(): Option {
  return new Option('-c, --config <path>', 'config file (default: $MALT_CONFIG or ./malt.yaml)');
}

export function config(opts: { config?: string }): MaltConfig {
  return loadConfig({ path: opts.config });
}

/** Wraps a command action so any error ends the process through fail(). */
export function action<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err);
    }
  };
}

export async function withStore<T>(cfg: MaltConfig, fn: (store: SnapshotStore) => Promise<T>): Promise<T> {
  const handle = await openRedis(cfg, { log });
  try {
    return await fn(new SnapshotStore(handle.client, new KeyLayout(cfg.redis.keyPrefix)));
  } finally {
    await handle.close();
  }
}
