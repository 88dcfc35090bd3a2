/**
 * The `malt` command line. Every command reads the config once (MALT_CONFIG, default
 * ./malt.yaml) and reports errors as "error CODE: message" with a non-zero exit code.
 */
import { Command, Option } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { type MaltConfig, findDataset, loadConfig } from './config.js';
import { MaltError, toMaltError } from './errors.js';
import { KeyLayout } from './keys.js';
import { createProgress } from './loaders/load-progress.js';
import { type LoadReport, loadDataset } from './loaders/load-dataset.js';
import { openRedis } from './redis/redis-handle.js';
import { startEmbeddedRedis } from './redis/embedded-redis.js';
import { SnapshotStore } from './store/snapshot-store.js';
import { sampleConfigDocument, samplePlayerId, writeSampleLake } from './sample/sample-lake.js';
import { startServing } from './app.js';
import { grpcGet } from './serving/grpc-client.js';

const log = (msg: string): void => console.error(`${new Date().toISOString()} ${msg}`);

function fail(err: unknown): never {
  const e = toMaltError(err);
  console.error(`error ${e.code}: ${e.message}`);
  process.exit(e.code === 'CONFIG_INVALID' ? 2 : 1);
}

function config(opts: { config?: string }): MaltConfig {
  return loadConfig({ path: opts.config });
}

function summary(r: LoadReport): string {
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

/** Loads the named datasets (all when none); returns false if any failed. */
async function runLoad(cfg: MaltConfig, names: string[], force: boolean): Promise<boolean> {
  for (const n of names) if (!findDataset(cfg, n)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${n}" (declared: ${cfg.datasets.map((d) => d.name).join(', ')})`);
  const handle = await openRedis(cfg, { log });
  const abort = new AbortController();
  const stop = (): void => {
    if (abort.signal.aborted) process.exit(130); // second signal: leave now
    log('interrupted: stopping the load; the served versions are untouched (signal again to quit at once)');
    abort.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let ok = true;
  try {
    for (const d of cfg.datasets.filter((x) => names.length === 0 || names.includes(x.name))) {
      if (abort.signal.aborted) break;
      try {
        const report = await loadDataset(handle.client, cfg, d, { force, progress: createProgress(), signal: abort.signal });
        console.log(summary(report));
      } catch (err) {
        ok = false;
        const e = toMaltError(err);
        console.error(`${d.name}: load refused — error ${e.code}: ${e.message}\n  the served version is unchanged`);
      }
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await handle.close();
  }
  if (abort.signal.aborted) process.exit(130);
  return ok;
}

async function withStore<T>(cfg: MaltConfig, fn: (store: SnapshotStore) => Promise<T>): Promise<T> {
  const handle = await openRedis(cfg, { log });
  try {
    return await fn(new SnapshotStore(handle.client, new KeyLayout(cfg.redis.keyPrefix)));
  } finally {
    await handle.close();
  }
}

function printCalls(httpPort: number, grpcPort: number, host: string): void {
  const id = samplePlayerId(42);
  const h = `http://${host}:${httpPort}`;
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

  npx malt get ${id} --addr ${host}:${grpcPort}
  npx malt get ${id} --addr ${host}:${grpcPort} --segments player_segments
  grpcurl -plaintext -d '{"entity_id":"${id}"}' ${host}:${grpcPort} malt.v1.Serving/Get   # if you have grpcurl

Press Ctrl+C to stop (the embedded Redis keeps its data under .malt/redis).
`);
}

async function serveUntilSignal(cfg: MaltConfig, demo: boolean, afterClose: () => Promise<void> = async () => undefined): Promise<void> {
  const app = await startServing(cfg, { log });
  log(`HTTP on http://${cfg.serving.host}:${app.httpPort}, gRPC on ${cfg.serving.host}:${app.grpcPort}`);
  if (demo) printCalls(app.httpPort, app.grpcPort, cfg.serving.host);
  const shutdown = (signal: string): void => {
    log(`${signal}: shutting down`);
    app.close().then(afterClose).then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

export function buildCli(): Command {
  const program = new Command('malt').description('Serve precomputed player data from your data lake in about a millisecond').showHelpAfterError();
  const cfgOpt = new Option('-c, --config <path>', 'config file (default: $MALT_CONFIG or ./malt.yaml)');

  program.command('serve').description('start the HTTP and gRPC servers').addOption(cfgOpt)
    .action(async (opts) => {
      try {
        await serveUntilSignal(config(opts), false);
      } catch (err) {
        fail(err);
      }
    });

  program.command('load').description('load datasets from the lake into new snapshot versions (all when none named)')
    .argument('[datasets...]').addOption(cfgOpt).option('-f, --force', 'reload even if the source is unchanged')
    .action(async (names: string[], opts) => {
      try {
        process.exitCode = (await runLoad(config(opts), names, opts.force === true)) ? 0 : 1;
      } catch (err) {
        fail(err);
      }
    });

  program.command('versions').description('list the versions of a dataset kept in Redis').argument('<dataset>').addOption(cfgOpt).option('--json', 'print JSON')
    .action(async (name: string, opts) => {
      try {
        const cfg = config(opts);
        if (!findDataset(cfg, name)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${name}"`);
        const [current, versions] = await withStore(cfg, async (s) => [await s.currentVersionId(name), await s.listVersions(name)] as const);
        if (opts.json) return console.log(JSON.stringify({ dataset: name, current, versions }, null, 2));
        if (versions.length === 0) return console.log(`${name}: no versions yet`);
        console.log('   version  state       rows        rejected  dups  loaded_at                 fingerprint');
        for (const v of versions) {
          console.log(`${v.id === current ? '*' : ' '} ${String(v.id).padStart(8)}  ${v.state.padEnd(10)}  ${String(v.rows).padStart(10)}  ${String(v.rejected).padStart(8)}  ${String(v.duplicates).padStart(4)}  ${v.loadedAt.padEnd(24)}  ${v.fingerprint}${v.error ? `  (${v.error})` : ''}`);
        }
      } catch (err) {
        fail(err);
      }
    });

  program.command('rollback').description('serve an older version again (default: the previous published one)').argument('<dataset>').addOption(cfgOpt)
    .option('--to <version>', 'version id to serve')
    .action(async (name: string, opts) => {
      try {
        const cfg = config(opts);
        if (!findDataset(cfg, name)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${name}"`);
        const to = opts.to === undefined ? undefined : Number(opts.to);
        if (to !== undefined && (!Number.isInteger(to) || to <= 0)) throw new MaltError('INVALID_ARGUMENT', `--to must be a version id, got ${opts.to}`);
        const res = await withStore(cfg, (s) => s.rollback(name, to));
        console.log(`${name}: now serving version ${res.to} (was ${res.from ?? 'none'})`);
      } catch (err) {
        fail(err);
      }
    });

  program.command('sample').description('write a sample lake (Parquet) and, if absent, a malt.yaml that serves it')
    .option('--dir <dir>', 'where to write the lake', './lake').option('--players <n>', 'number of players', '100000')
    .option('--no-config', 'do not write malt.yaml')
    .action((opts) => {
      try {
        const dir = path.resolve(opts.dir);
        const s = writeSampleLake({ dir, players: Number(opts.players) });
        console.log(`wrote ${s.players.toLocaleString('en-US')} players to ${dir}/player_features (${s.featureFiles.length} files) and ${s.segmentRows.toLocaleString('en-US')} segment rows to ${dir}/player_segments`);
        if (opts.config && !existsSync('malt.yaml')) {
          writeFileSync('malt.yaml', toYaml(sampleConfigDocument(path.relative(process.cwd(), dir) || '.')));
          console.log('wrote malt.yaml; next: npx malt load && npx malt serve');
        }
      } catch (err) {
        fail(err);
      }
    });

  program.command('demo').description('the quick start: write the sample lake under .malt/, load it into the embedded Redis, serve it')
    .option('--players <n>', 'number of players', '100000')
    .action(async (opts) => {
      try {
        const lake = path.resolve('.malt/lake');
        if (!existsSync(path.join(lake, 'player_features'))) {
          log(`writing the sample lake to ${lake}`);
          writeSampleLake({ dir: lake, players: Number(opts.players) });
        }
        const cfg = loadConfig({ document: sampleConfigDocument(lake), baseDir: process.cwd() });
        // One embedded redis-server for the load and the server that follows it.
        const embedded = cfg.redis.url ? null : await startEmbeddedRedis(cfg.redis.embeddedDir, log);
        const stopEmbedded = async (): Promise<void> => embedded?.stop();
        if (!(await runLoad(cfg, [], false))) {
          await stopEmbedded();
          process.exit(1);
        }
        await serveUntilSignal(cfg, true, stopEmbedded);
      } catch (err) {
        fail(err);
      }
    });

  program.command('get').description('call a running malt over gRPC and print the result as JSON').argument('<entity_id>')
    .option('--addr <host:port>', 'gRPC address', '127.0.0.1:50051').option('--datasets <names>', 'comma-separated datasets')
    .option('--segments <dataset>', 'call GetSegments on this segments dataset instead')
    .action(async (id: string, opts) => {
      try {
        console.log(JSON.stringify(await grpcGet(opts.addr, id, opts.datasets ? String(opts.datasets).split(',') : [], opts.segments), null, 2));
      } catch (err) {
        fail(err);
      }
    });

  program.command('check-config').description('validate the config file and print the datasets it declares').addOption(cfgOpt)
    .action((opts) => {
      try {
        const cfg = config(opts);
        console.log(`config OK: ${cfg.datasets.map((d) => `${d.name} (${d.kind})`).join(', ')}`);
      } catch (err) {
        fail(err);
      }
    });
  return program;
}

await buildCli().parseAsync(process.argv);
