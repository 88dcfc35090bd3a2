/**
 * `malt sync [datasets…] [--once]`: keeps datasets in sync with their sources (src/sync/).
 * The first SIGINT/SIGTERM stops scheduling, abandons the load in flight (nothing published,
 * lock released), closes Redis and exits 0; a second one exits 130 at once. With --once each
 * dataset is polled once and the exit code follows `malt load`'s rule (130 when interrupted).
 */
import type { Command } from 'commander';
import { Lifecycle } from '../app/lifecycle.js';
import { type DatasetConfig, type MaltConfig, findDataset } from '../config.js';
import { MaltError } from '../errors.js';
import { openRedis } from '../redis/redis-handle.js';
import { type PollOutcome, startSync } from '../sync/sync-scheduler.js';
import { stderrLogger } from '../telemetry/logger.js';
import { startTracing } from '../telemetry/tracing.js';
import { EXIT, action, config, configOption, isRefusal, loadErrorExitCode, onShutdownSignals } from './cli-support.js';

function selected(cfg: MaltConfig, names: readonly string[]): DatasetConfig[] {
  for (const n of names) if (!findDataset(cfg, n)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${n}" (declared: ${cfg.datasets.map((d) => d.name).join(', ')})`);
  return cfg.datasets.filter((d) => names.length === 0 || names.includes(d.name));
}

/** `--once`: the exit code of the polls, by the rule of `malt load` (failed 1 > refused 3 > 0). */
export function onceExitCode(outcomes: readonly PollOutcome[]): number {
  if (outcomes.some((o) => o.kind === 'interrupted')) return EXIT.interrupted;
  if (outcomes.some((o) => o.kind === 'busy' || (o.kind === 'failed' && !isRefusal(o.error)))) return EXIT.failed;
  if (outcomes.some((o) => o.kind === 'failed')) return EXIT.refused;
  return EXIT.ok;
}

const describe = (d: DatasetConfig): string => `${d.name} (every ${d.sync.intervalMs / 1000} s ± ${Math.round(d.sync.jitter * 100)}%)`;

async function runSync(cfg: MaltConfig, names: readonly string[], once: boolean): Promise<number> {
  const datasets = selected(cfg, names);
  const lifecycle = new Lifecycle(stderrLogger);
  let stopping = false;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const remove = onShutdownSignals((sig) => {
    stopping = true;
    stderrLogger.warn(`${sig}: stopping sync; a load in flight is abandoned (nothing published); signal again to quit at once`);
    void lifecycle.close().then(resolveStopped);
  });
  try {
    // Load spans go out over OTLP when telemetry.otlp_endpoint is set; flushed last on close.
    const tracingHandle = await startTracing(cfg.telemetry);
    if (tracingHandle) lifecycle.add('telemetry flush', () => tracingHandle.shutdown());
    const handle = await openRedis(cfg, { logger: stderrLogger });
    lifecycle.add('redis', () => handle.close());
    if (stopping) return once ? EXIT.interrupted : EXIT.ok;
    stderrLogger.info(`sync ${once ? 'once' : 'started'}: ${datasets.map(describe).join(', ')}`);
    const run = startSync({ redis: handle.client, config: cfg, datasets, logger: stderrLogger, once });
    lifecycle.add('sync loops', () => run.stop());
    const outcomes = await Promise.race([run.finished, stopped.then(() => null)]);
    if (outcomes === null || stopping) {
      await stopped;
      stderrLogger.info('sync stopped');
      // A stop is the normal end of a long-running sync; --once behaves like `malt load`.
      return once ? EXIT.interrupted : EXIT.ok;
    }
    await lifecycle.close();
    return onceExitCode(outcomes);
  } finally {
    remove();
    await lifecycle.close();
  }
}

export function registerSync(program: Command): void {
  program.command('sync').description('keep datasets in sync with their sources: poll each on its sync.interval and load what changed (all when none named)')
    .argument('[datasets...]').addOption(configOption()).option('--once', 'poll each dataset once and exit (exit codes as `malt load`)')
    .action(action(async (names: string[], opts: { config?: string; once?: boolean }) => {
      const cfg = config(opts);
      // Exit explicitly: an embedded redis-server child or a stray timer must not keep us alive.
      process.exit(await runSync(cfg, names, opts.once === true));
    }, loadErrorExitCode));
}
