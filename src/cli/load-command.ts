/**
 * `malt load [datasets…]`: loads datasets into new snapshot versions and prints a report for
 * each. Ctrl+C stops the load cleanly (nothing published, lock released); a second one quits.
 * Exit codes: loadExitCode() and docs/operations.md#exit-codes.
 */
import type { Command } from 'commander';
import { type MaltConfig, findDataset } from '../config.js';
import { MaltError, toMaltError } from '../errors.js';
import { createProgress } from '../loaders/load-progress.js';
import { parseAsOfTime } from '../loaders/as-of-time.js';
import { type LoadReport, loadDataset } from '../loaders/load-dataset.js';
import { openRedis } from '../redis/redis-handle.js';
import { stderrLogger } from '../telemetry/logger.js';
import { startTracing, traced } from '../telemetry/tracing.js';
import { EXIT, action, config, configOption, isRefusal, loadErrorExitCode, onShutdownSignals } from './cli-support.js';

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
    ...(r.sourceVersion !== null ? [`  source: Delta version ${r.sourceVersion} (${r.sourceAsOf ?? 'commit time unknown'})`] : []),
    ...(r.segmentEvents ? [segmentEventsLine(r.segmentEvents)] : []),
    ...r.checks.map((c) => `  check overridden by --force: ${c.check}${c.column ? ` (${c.column})` : ''}: ${c.message}`),
    ...(r.wideRows ? [`  note: ${r.wideRows} rows are over 64 bytes stored; Redis keeps their buckets as hashtables (more memory); see docs/redis-layout.md`] : []),
  ].join('\n');
}

function segmentEventsLine(e: NonNullable<LoadReport['segmentEvents']>): string {
  const dropped = e.dropped > 0 ? `, ${e.dropped} dropped (over segment_events_maxlen)` : '';
  return `  segment events to ${e.stream}: ${e.enters} enter, ${e.exits} exit${dropped}${e.error !== undefined ? `; NOT appended: ${e.error}` : ''}`;
}

/** What became of one dataset in a `malt load` run. */
export interface DatasetLoadResult {
  readonly dataset: string;
  /** refused: the data was refused (exit 3); failed: anything else went wrong (exit 1). */
  readonly status: 'published' | 'skipped' | 'refused' | 'failed' | 'interrupted';
  readonly error?: MaltError;
}

export interface LoadOutcome {
  /** Every named load published or was skipped. */
  readonly ok: boolean;
  /** The signal aborted the run (the caller exits 130). */
  readonly interrupted: boolean;
  /** One entry per dataset attempted, in config order. */
  readonly results: readonly DatasetLoadResult[];
}

function failureResult(dataset: string, e: MaltError, signal?: AbortSignal): DatasetLoadResult {
  if (e.code === 'LOAD_INTERRUPTED' || signal?.aborted) return { dataset, status: 'interrupted', error: e };
  return { dataset, status: isRefusal(e) ? 'refused' : 'failed', error: e };
}

const FAILURE_WORDS = { refused: 'load refused', failed: 'load failed', interrupted: 'load interrupted' } as const;

/**
 * Loads the named datasets (all when none). Installs no signal handlers and never exits: the
 * caller passes an AbortSignal and decides the exit code from the outcome (loadExitCode).
 */
export async function runLoad(cfg: MaltConfig, names: string[], force: boolean, signal?: AbortSignal, opts: { asOf?: string } = {}): Promise<LoadOutcome> {
  for (const n of names) if (!findDataset(cfg, n)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${n}" (declared: ${cfg.datasets.map((d) => d.name).join(', ')})`);
  // Spans of the load phases, exported when telemetry.otlp_endpoint is set (docs/observability.md#traces).
  const tracingHandle = await startTracing(cfg.telemetry);
  const handle = await openRedis(cfg, { logger: stderrLogger });
  const results: DatasetLoadResult[] = [];
  try {
    for (const d of cfg.datasets.filter((x) => names.length === 0 || names.includes(x.name))) {
      if (signal?.aborted) break;
      try {
        const report = await traced('malt.load', { 'malt.dataset': d.name }, () => loadDataset(handle.client, cfg, d, { force, progress: createProgress(), signal, ...(opts.asOf !== undefined ? { asOf: opts.asOf } : {}) }));
        console.log(summary(report));
        if (opts.asOf !== undefined && report.status === 'published') console.log(`  as-of time ${opts.asOf} (--as-of; shown as source_as_of)`);
        results.push({ dataset: d.name, status: report.status });
      } catch (err) {
        const r = failureResult(d.name, toMaltError(err), signal);
        results.push(r);
        console.error(`${d.name}: ${FAILURE_WORDS[r.status as keyof typeof FAILURE_WORDS]} — error ${r.error?.code}: ${r.error?.message}\n  the served version is unchanged`);
      }
    }
  } finally {
    await handle.close();
    await tracingHandle?.shutdown().catch(() => undefined);
  }
  const interrupted = signal?.aborted === true;
  const ok = !interrupted && results.every((r) => r.status === 'published' || r.status === 'skipped');
  return { ok, interrupted, results };
}

/**
 * Runs fn with an AbortSignal that SIGINT/SIGTERM abort; a second signal exits at once (130).
 * `what` names the work in the log line (default "the load").
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>, what = 'the load'): Promise<T> {
  const abort = new AbortController();
  const remove = onShutdownSignals((sig) => {
    stderrLogger.warn(`${sig}: stopping ${what}; the served versions are untouched (signal again to quit at once)`);
    abort.abort();
  });
  try {
    return await fn(abort.signal);
  } finally {
    remove();
  }
}

/**
 * The exit code of a load run (docs/operations.md#exit-codes): 130 interrupted; else 1 when any
 * dataset failed for a reason other than its data (a retry may help); else 3 when any load was
 * refused (a check, the schema or the source); else 0 (every dataset published or unchanged).
 */
export function loadExitCode(o: LoadOutcome): number {
  if (o.interrupted || o.results.some((r) => r.status === 'interrupted')) return EXIT.interrupted;
  if (o.results.some((r) => r.status === 'failed')) return EXIT.failed;
  if (o.results.some((r) => r.status === 'refused')) return EXIT.refused;
  return EXIT.ok;
}

export function registerLoad(program: Command): void {
  program.command('load').description('load datasets from the lake into new snapshot versions (all when none named); exit 0 loaded or unchanged, 1 failed, 2 config error, 3 refused, 130 interrupted')
    .argument('[datasets...]').addOption(configOption()).option('-f, --force', 'reload even if the source is unchanged or was rolled back')
    .option('--as-of <time>', 'RFC 3339 as-of time of the new versions (default: the Delta commit time or newest Parquet mtime); updates older than it are superseded')
    .action(action(async (names: string[], opts: { config?: string; force?: boolean; asOf?: string }) => {
      const asOf = opts.asOf === undefined ? undefined : parseAsOfTime(opts.asOf);
      const cfg = config(opts);
      process.exitCode = loadExitCode(await withInterrupt((signal) => runLoad(cfg, names, opts.force === true, signal, asOf === undefined ? {} : { asOf })));
    }, loadErrorExitCode));
}
