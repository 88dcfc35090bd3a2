/**
 * `malt load [datasets…]`: loads datasets into new snapshot versions and prints a report for
 * each. Ctrl+C stops the load cleanly (nothing published, lock released); a second one quits.
 */
import type { Command } from 'commander';
import { type MaltConfig, findDataset } from '../config.js';
import { MaltError, toMaltError } from '../errors.js';
import { createProgress } from '../loaders/load-progress.js';
import { type LoadReport, loadDataset } from '../loaders/load-dataset.js';
import { openRedis } from '../redis/redis-handle.js';
import { action, config, configOption, log } from './cli-support.js';

export function summary(r: LoadReport): string {
  if (r.status === 'skipped' && r.skipReason === 'rolled_back') {
    return `${r.dataset}: source is the one of version ${r.version}, which was rolled back; not reloading it (use --force to load it anyway)`;
  }
  if (r.status === 'skipped') return `${r.dataset}: source unchanged (${r.fingerprint}); still serving version ${r.version} (use --force to reload)`;
  const reasons = Object.entries(r.rejectedReasons).map(([k, v]) => `${k}=${v}`).join(', ');
  const rate = r.rowsRead / Math.max(r.durationMs / 1000, 0.001);
  return [
    `${r.dataset}: published version ${r.version}${r.previousVersion !== null ? ` (was ${r.previousVersion})` : ''}`,
    `  files ${r.files}, rows read ${r.rowsRead.toLocaleString('en-US')}, entities ${r.rows.toLocaleString('en-US')}, duplicates ${r.duplicates}, rejected ${r.rejected}${reasons ? ` (${reasons})` : ''}`,
    `  ${(r.durationMs / 1000).toFixed(2)} s, ${Math.round(rate).toLocaleString('en-US')} rows/s, fingerprint ${r.fingerprint}${r.reclaimed.length ? `, reclaimed versions ${r.reclaimed.join(', ')}` : ''}`,
    ...(r.skippedColumns.length ? [`  not served (unsupported types): ${r.skippedColumns.join(', ')}`] : []),
    ...(r.wideRows ? [`  note: ${r.wideRows} rows are over 64 bytes stored; Redis keeps their buckets as hashtables (more memory); see docs/redis-layout.md`] : []),
  ].join('\n');
}

export interface LoadOutcome {
  /** Every named load published or was skipped. */
  readonly ok: boolean;
  /** The signal aborted the run (the caller exits 130). */
  readonly interrupted: boolean;
}

/**
 * Loads the named datasets (all when none). Installs no signal handlers and never exits: the
 * caller passes an AbortSignal and decides the exit code from the outcome.
 */
export async function runLoad(cfg: MaltConfig, names: string[], force: boolean, signal?: AbortSignal): Promise<LoadOutcome> {
  for (const n of names) if (!findDataset(cfg, n)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${n}" (declared: ${cfg.datasets.map((d) => d.name).join(', ')})`);
  const handle = await openRedis(cfg, { log });
  let ok = true;
  try {
    for (const d of cfg.datasets.filter((x) => names.length === 0 || names.includes(x.name))) {
      if (signal?.aborted) break;
      try {
        const report = await loadDataset(handle.client, cfg, d, { force, progress: createProgress(), signal });
        console.log(summary(report));
      } catch (err) {
        ok = false;
        const e = toMaltError(err);
        console.error(`${d.name}: load refused — error ${e.code}: ${e.message}\n  the served version is unchanged`);
      }
    }
  } finally {
    await handle.close();
  }
  return { ok: ok && !signal?.aborted, interrupted: signal?.aborted === true };
}

/** Runs fn with an AbortSignal that SIGINT/SIGTERM abort; a second signal exits at once (130). */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const stop = (): void => {
    if (abort.signal.aborted) process.exit(130); // second signal: leave now
    log('interrupted: stopping the load; the served versions are untouched (signal again to quit at once)');
    abort.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await fn(abort.signal);
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

/** The exit code of a load run: 130 when interrupted, 1 when a load was refused. */
export function loadExitCode(o: LoadOutcome): number {
  return o.interrupted ? 130 : o.ok ? 0 : 1;
}

export function registerLoad(program: Command): void {
  program.command('load').description('load datasets from the lake into new snapshot versions (all when none named)')
    .argument('[datasets...]').addOption(configOption()).option('-f, --force', 'reload even if the source is unchanged or was rolled back')
    .action(action(async (names: string[], opts: { config?: string; force?: boolean }) => {
      const cfg = config(opts);
      process.exitCode = loadExitCode(await withInterrupt((signal) => runLoad(cfg, names, opts.force === true, signal)));
    }));
}
