/**
 * Shared by the CLI commands: logging, the error → exit-code rules, signal handling, config
 * loading, and a short-lived Redis connection for admin commands. src/cli/ is the only place
 * that exits the process or installs signal handlers.
 */
import { Option } from 'commander';
import { type MaltConfig, loadConfig } from '../config.js';
import { ERROR_CATALOG, type MaltError, toMaltError } from '../errors.js';
import { KeyLayout } from '../keys.js';
import { openRedis } from '../redis/redis-handle.js';
import { SnapshotStore } from '../store/snapshot-store.js';
import { configureStderrLogger, stderrLogger } from '../telemetry/logger.js';

/** An info line on stderr through stderrLogger (text or JSON per `log.format`), for code that takes a plain `log`. */
export const log = (msg: string): void => stderrLogger.info(msg);

/**
 * Exit codes of `malt load` and `malt sync` (docs/operations.md#exit-codes):
 * 0 every dataset published or skipped (unchanged), 1 another failure (Redis unreachable,
 * another loader holds the lock, an internal error: worth retrying), 2 config or usage error,
 * 3 a load refused by the data (a check, the schema or the source: worth fixing, not retrying),
 * 130 interrupted by SIGINT/SIGTERM.
 */
export const EXIT = { ok: 0, failed: 1, config: 2, refused: 3, interrupted: 130 } as const;

/** Config and usage errors: fixed by editing the config or the command line. */
const USAGE_CODES: ReadonlySet<string> = new Set(['CONFIG_INVALID', 'DATASET_NOT_FOUND', 'INVALID_ARGUMENT']);

/**
 * A load the data refused: every catalog code answered with HTTP 422 (CHECK_FAILED,
 * SCHEMA_MISMATCH, SOURCE_NOT_FOUND, SOURCE_UNREADABLE, SOURCE_NOT_READY, DELTA_*,
 * DELETION_VECTOR_INVALID, …), so a code added to the catalog as 422 is a refusal too.
 */
export function isRefusal(e: MaltError): boolean {
  return ERROR_CATALOG[e.code].http === 422;
}

/** The load/sync exit code for an error that ended the command. */
export function loadErrorExitCode(e: MaltError): number {
  if (USAGE_CODES.has(e.code)) return EXIT.config;
  if (e.code === 'LOAD_INTERRUPTED') return EXIT.interrupted;
  return isRefusal(e) ? EXIT.refused : EXIT.failed;
}

/** The exit code of other commands: 2 for an invalid config, 1 otherwise. */
export function commandErrorExitCode(e: MaltError): number {
  return e.code === 'CONFIG_INVALID' ? EXIT.config : EXIT.failed;
}

/** Prints "error CODE: message" and exits with `exitCode(error)` (default: commandErrorExitCode). */
export function fail(err: unknown, exitCode: (e: MaltError) => number = commandErrorExitCode): never {
  const e = toMaltError(err);
  console.error(`error ${e.code}: ${e.message}`);
  process.exit(exitCode(e));
}

export function configOption(): Option {
  return new Option('-c, --config <path>', 'config file (default: $MALT_CONFIG or ./malt.yaml)');
}

/** Loads the config and switches the CLI's stderr logger to its `log` section (format, level). */
export function config(opts: { config?: string }): MaltConfig {
  const cfg = loadConfig({ path: opts.config });
  configureStderrLogger(cfg.log);
  return cfg;
}

/** Wraps a command action so any error ends the process through fail(err, exitCode). */
export function action<A extends unknown[]>(fn: (...args: A) => unknown, exitCode?: (e: MaltError) => number): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      fail(err, exitCode);
    }
  };
}

/**
 * Calls `onFirst` on the first SIGINT/SIGTERM; a second one exits at once with 130. Returns a
 * function that removes the handlers.
 */
export function onShutdownSignals(onFirst: (signal: NodeJS.Signals) => void): () => void {
  let seen = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (seen) process.exit(EXIT.interrupted); // second signal: leave now
    seen = true;
    onFirst(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}

export async function withStore<T>(cfg: MaltConfig, fn: (store: SnapshotStore) => Promise<T>): Promise<T> {
  const handle = await openRedis(cfg, { logger: stderrLogger });
  try {
    return await fn(new SnapshotStore(handle.client, new KeyLayout(cfg.redis.keyPrefix)));
  } finally {
    await handle.close();
  }
}
