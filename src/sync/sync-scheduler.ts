/**
 * The `malt sync` loop: one timer loop per dataset, each polling its source on the dataset's
 * `sync.interval` (± `sync.jitter`), the first poll at start. A poll is one loadDataset() call:
 * it skips an unchanged source itself (same fingerprint / source snapshot as the served
 * version), so "skipped" means nothing new. A dataset's loop runs one load at a time; across
 * processes the Redis load lock decides, and a poll that finds it held waits for the next tick.
 * Failures are retried with exponential backoff capped at the interval (src/sync/backoff.ts).
 *
 * Library code: it returns and reports outcomes, logs through a Logger, and never exits the
 * process or installs signal handlers; src/cli/sync-command.ts does that.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { type MaltError, toMaltError } from '../errors.js';
import { type LoadReport, loadDataset } from '../loaders/load-dataset.js';
import { traced } from '../telemetry/tracing.js';
import { type Logger, silentLogger } from '../telemetry/logger.js';
import { nextDelayMs } from './backoff.js';

export type PollOutcome =
  | { readonly dataset: string; readonly kind: 'published' | 'unchanged'; readonly report: LoadReport }
  /** Another loader holds the dataset's lock (not a failure: retried on the next tick). */
  | { readonly dataset: string; readonly kind: 'busy'; readonly error: MaltError }
  /** `failures`: how many polls in a row have failed, this one included. */
  | { readonly dataset: string; readonly kind: 'failed'; readonly error: MaltError; readonly failures: number }
  /** stop() aborted the load in flight; nothing was published and the lock was released. */
  | { readonly dataset: string; readonly kind: 'interrupted'; readonly error: MaltError };

export interface SyncOptions {
  readonly redis: Redis;
  readonly config: MaltConfig;
  /** The datasets to keep in sync (default: every declared one). */
  readonly datasets?: readonly DatasetConfig[];
  /** Default: silent. */
  readonly logger?: Logger;
  /** Poll each dataset once, then finish (default false). */
  readonly once?: boolean;
  /** First retry delay after a failure (default 1000 ms; doubles per failure, capped at the interval). */
  readonly backoffBaseMs?: number;
  /** Uniform [0, 1) source for jitter (default Math.random). */
  readonly random?: () => number;
  /** Called after every poll with the wait before the next one (null when the loop ends). */
  readonly onPoll?: (outcome: PollOutcome, nextInMs: number | null) => void;
}

export interface SyncRun {
  /** Every dataset's last outcome, once all loops have ended (after stop(), or one poll each with `once`). */
  readonly finished: Promise<readonly PollOutcome[]>;
  /**
   * Stops scheduling, aborts the loads in flight (they publish nothing and release their lock)
   * and resolves when every loop has ended. Idempotent.
   */
  stop(): Promise<void>;
}

interface LoopContext {
  readonly opts: SyncOptions;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function poll(ctx: LoopContext, dataset: DatasetConfig, failures: number): Promise<PollOutcome> {
  try {
    const report = await traced('malt.load', { 'malt.dataset': dataset.name }, () => loadDataset(ctx.opts.redis, ctx.opts.config, dataset, { signal: ctx.signal }));
    return { dataset: dataset.name, kind: report.status === 'published' ? 'published' : 'unchanged', report };
  } catch (err) {
    const error = toMaltError(err);
    if (ctx.signal.aborted) return { dataset: dataset.name, kind: 'interrupted', error };
    if (error.code === 'LOAD_IN_PROGRESS') return { dataset: dataset.name, kind: 'busy', error };
    return { dataset: dataset.name, kind: 'failed', error, failures: failures + 1 };
  }
}

/** One log line per outcome that an operator needs; an unchanged source is logged only when that is news. */
function logOutcome(logger: Logger, o: PollOutcome, previous: PollOutcome | null, nextInMs: number | null): void {
  const next = nextInMs === null ? '' : `; next poll in ${seconds(nextInMs)}`;
  const recovered = previous?.kind === 'failed' ? ` (recovered after ${previous.failures} failed poll${previous.failures === 1 ? '' : 's'})` : '';
  switch (o.kind) {
    case 'published': {
      const r = o.report;
      logger.info(`${o.dataset}: published version ${r.version}${r.previousVersion !== null ? ` (was ${r.previousVersion})` : ''}${recovered}`, {
        rows: r.rows, rejected: r.rejected, duplicates: r.duplicates, files: r.files, duration_ms: Math.round(r.durationMs), fingerprint: r.fingerprint,
      });
      return;
    }
    case 'unchanged':
      if (previous === null || previous.kind !== 'unchanged' || recovered) {
        const why = o.report.skipReason === 'rolled_back' ? `the source is the one of rolled-back version ${o.report.version}; not reloading it` : `source unchanged; serving version ${o.report.version}`;
        logger.info(`${o.dataset}: ${why}${recovered}${next}`);
      }
      return;
    case 'busy':
      logger.warn(`${o.dataset}: another loader holds the load lock; retrying on the next poll${next}`, { code: o.error.code, message: o.error.message });
      return;
    case 'failed':
      logger.error(`${o.dataset}: load failed (${o.failures} in a row); the served version is unchanged${next}`, { code: o.error.code, message: o.error.message });
      return;
    case 'interrupted':
      logger.info(`${o.dataset}: load abandoned at shutdown; nothing was published and the lock was released`);
  }
}

async function datasetLoop(ctx: LoopContext, dataset: DatasetConfig): Promise<PollOutcome | null> {
  const policy = { intervalMs: dataset.sync.intervalMs, jitter: dataset.sync.jitter, backoffBaseMs: ctx.opts.backoffBaseMs };
  let last: PollOutcome | null = null;
  let failures = 0;
  while (!ctx.signal.aborted) {
    const outcome = await poll(ctx, dataset, failures);
    failures = outcome.kind === 'failed' ? outcome.failures : 0;
    const ends = ctx.opts.once === true || outcome.kind === 'interrupted' || ctx.signal.aborted;
    const wait = ends ? null : nextDelayMs(policy, failures, ctx.opts.random);
    logOutcome(ctx.logger, outcome, last, wait);
    ctx.opts.onPoll?.(outcome, wait);
    last = outcome;
    if (wait === null) break;
    try {
      await sleep(wait, undefined, { signal: ctx.signal });
    } catch {
      break; // aborted: stop() was called
    }
  }
  return last;
}

/** Starts one loop per dataset (first poll at once) and returns a handle to wait for or stop them. */
export function startSync(opts: SyncOptions): SyncRun {
  const abort = new AbortController();
  const logger = opts.logger ?? silentLogger;
  const datasets = opts.datasets ?? opts.config.datasets;
  const unique = datasets.filter((d, i) => datasets.findIndex((x) => x.name === d.name) === i);
  const ctx: LoopContext = { opts, logger, signal: abort.signal };
  const finished = Promise.all(unique.map((d) => datasetLoop(ctx, d)))
    .then((outcomes) => outcomes.filter((o): o is PollOutcome => o !== null));
  return {
    finished,
    async stop() {
      abort.abort();
      await finished;
    },
  };
}
