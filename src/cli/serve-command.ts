/**
 * `malt serve` and `malt demo` (the quick start: sample lake → embedded Redis → load → serve).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServing } from '../app.js';
import { type MaltConfig, loadConfig } from '../config.js';
import { startEmbeddedRedis } from '../redis/embedded-redis.js';
import { stderrLogger } from '../telemetry/logger.js';
import { action, config, configOption, log, onShutdownSignals } from './cli-support.js';

function printCalls(httpPort: number, grpcPort: number, host: string, samplePlayerId: (n: number) => string): void {
  const id = samplePlayerId(42);
  const h = `http://${host}:${httpPort}`;
  // The CLI by absolute path: works from any directory (npx malt would look on the registry).
  const malt = `node ${JSON.stringify(path.resolve(fileURLToPath(import.meta.url), '../../../bin/malt.js'))}`;
  console.log(`
malt is serving. Try:

  curl -s ${h}/v1/entities/${id}
  curl -s '${h}/v1/entities/${id}?datasets=player_features,player_segments'
  curl -s -X POST ${h}/v1/entities/batch -H 'content-type: application/json' -d '{"entity_ids":["${id}","${samplePlayerId(7)}","nobody"]}'
  curl -s ${h}/v1/entities/${id}/segments
  curl -s ${h}/v1/entities/${id}/segments/lapsed_7d
  curl -s ${h}/v1/datasets
  open ${h}/docs for the OpenAPI UI

gRPC (${host}:${grpcPort}, reflection enabled):

  ${malt} get ${id} --addr ${host}:${grpcPort}
  ${malt} get ${id} --addr ${host}:${grpcPort} --segments player_segments
  grpcurl -plaintext -d '{"entity_id":"${id}"}' ${host}:${grpcPort} malt.v1.Serving/Get   # if you have grpcurl

Press Ctrl+C to stop (the embedded Redis keeps its data under .malt/redis).
`);
}

/** `demo`: the sample lake's player ids, to print example calls. */
async function serveUntilSignal(cfg: MaltConfig, demo: ((n: number) => string) | null, afterClose: () => Promise<void> = async () => undefined): Promise<void> {
  const app = await startServing(cfg, { logger: stderrLogger });
  // First SIGINT/SIGTERM: close (in-flight requests finish, the close stack unwinds); a second exits 130.
  // Installed before the "listening" line, so a supervisor that signals as soon as it reads it is handled.
  onShutdownSignals((signal) => {
    log(`${signal}: shutting down`);
    app.close().then(afterClose).then(() => process.exit(0), () => process.exit(1));
  });
  log(`HTTP on http://${cfg.serving.host}:${app.httpPort}, gRPC on ${cfg.serving.host}:${app.grpcPort}`);
  if (demo) printCalls(app.httpPort, app.grpcPort, cfg.serving.host, demo);
}

export function registerServe(program: Command): void {
  program.command('serve').description('start the HTTP and gRPC servers').addOption(configOption())
    .action(action(async (opts: { config?: string }) => serveUntilSignal(config(opts), null)));

  program.command('demo').description('the quick start: write the sample lake under .malt/, load it into the embedded Redis, serve it')
    .option('--players <n>', 'number of players', '100000')
    .action(action(async (opts: { players: string }) => {
      // Imported here, not at the top: `malt serve` then loads neither the loader (hyparquet, the
      // S3 SDK) nor the Parquet writer, and its heap stays smaller (BENCHMARKS.md, gRPC tails).
      const [{ sampleConfigDocument, samplePlayerId, writeSampleLake }, { loadExitCode, runLoad, withInterrupt }] = await Promise.all([
        import('../sample/sample-lake.js'), import('./load-command.js'),
      ]);
      const lake = path.resolve('.malt/lake');
      if (!existsSync(path.join(lake, 'player_features'))) {
        log(`writing the sample lake to ${lake}`);
        writeSampleLake({ dir: lake, players: Number(opts.players) });
      }
      const cfg = loadConfig({ document: sampleConfigDocument(lake), baseDir: process.cwd() });
      // One embedded redis-server for the load and the server that follows it.
      const embedded = cfg.redis.url || cfg.redis.cluster.length > 0 ? null : await startEmbeddedRedis(cfg.redis.embeddedDir, stderrLogger);
      const stopEmbedded = async (): Promise<void> => embedded?.stop();
      const outcome = await withInterrupt((signal) => runLoad(cfg, [], false, signal));
      if (!outcome.ok) {
        await stopEmbedded();
        process.exit(loadExitCode(outcome));
      }
      await serveUntilSignal(cfg, samplePlayerId, stopEmbedded);
    }));
}
