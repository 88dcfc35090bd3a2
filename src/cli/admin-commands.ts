/**
 * Operator commands: `versions`, `rollback`, `get` (a gRPC call to a running malt),
 * `check-config` and `sample`.
 */
import { type Command, Option } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { type MaltConfig, findDataset } from '../config.js';
import { MaltError } from '../errors.js';
import { sampleConfigDocument, writeSampleLake } from '../sample/sample-lake.js';
import { grpcGet } from '../serving/grpc-client.js';
import { versionsJson } from '../model/version-json.js';
import { action, config, configOption, withStore } from './cli-support.js';

function declared(cfg: MaltConfig, name: string): void {
  if (!findDataset(cfg, name)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset "${name}" (declared: ${cfg.datasets.map((d) => d.name).join(', ')})`);
}

/** A gate's number with at most 4 decimals (fractions), or its text (schema types). */
function formatGateValue(x: number | string): string {
  return typeof x === 'number' && !Number.isInteger(x) ? String(Math.round(x * 10_000) / 10_000) : String(x);
}

function registerVersions(program: Command): void {
  program.command('versions').description('list the versions of a dataset kept in Redis').argument('<dataset>').addOption(configOption()).option('--json', 'print JSON')
    .action(action(async (name: string, opts: { config?: string; json?: boolean }) => {
      const cfg = config(opts);
      declared(cfg, name);
      const [current, versions] = await withStore(cfg, async (s) => [await s.currentVersionId(name), await s.listVersions(name)] as const);
      if (opts.json) return console.log(JSON.stringify(versionsJson(name, current, versions), null, 2));
      if (versions.length === 0) return console.log(`${name}: no versions yet`);
      console.log('   version  state       rows        rejected  dups  loaded_at                 source_version  source_as_of              fingerprint');
      for (const v of versions) {
        const note = v.error ? `  (${v.error})` : v.rolledBackAt ? '  (rolled back)' : '';
        console.log(`${v.id === current ? '*' : ' '} ${String(v.id).padStart(8)}  ${v.state.padEnd(10)}  ${String(v.rows).padStart(10)}  ${String(v.rejected).padStart(8)}  ${String(v.duplicates).padStart(4)}  ${v.loadedAt.padEnd(24)}  ${(v.sourceVersion ?? '-').padEnd(14)}  ${(v.sourceAsOf ?? '-').padEnd(24)}  ${v.fingerprint}${note}`);
        // Failed gates: why a failed version was refused, or what --force overrode on a published one.
        for (const c of v.checks) console.log(`             ${v.state === 'failed' ? 'failed' : 'overridden'} check ${c.check}${c.column ? ` (${c.column})` : ''}: ${formatGateValue(c.actual)} vs limit ${formatGateValue(c.limit)}: ${c.message}`);
      }
      return undefined;
    }));
}

function registerRollback(program: Command): void {
  program.command('rollback').description('serve an older version again (default: the previous published one)').argument('<dataset>').addOption(configOption())
    .option('--to <version>', 'version id to serve')
    .action(action(async (name: string, opts: { config?: string; to?: string }) => {
      const cfg = config(opts);
      declared(cfg, name);
      if (opts.to !== undefined && !/^[1-9]\d{0,15}$/.test(opts.to)) throw new MaltError('INVALID_ARGUMENT', `--to must be a version id, got ${opts.to}`);
      const res = await withStore(cfg, (s) => s.rollback(name, opts.to === undefined ? undefined : Number(opts.to)));
      console.log(`${name}: now serving version ${res.to} (was ${res.from ?? 'none'}); loads of the rolled-back source are skipped unless --force`);
    }));
}

function registerGet(program: Command): void {
  program.command('get').description('call a running malt over gRPC and print the result as JSON').argument('<entity_id>')
    .option('--addr <host:port>', 'gRPC address', '127.0.0.1:50051').option('--datasets <names>', 'comma-separated datasets')
    .option('--segments <dataset>', 'call GetSegments on this segments dataset instead')
    .addOption(new Option('--token <token>', 'API key sent as `authorization: Bearer` metadata (servers with auth keys)').env('MALT_TOKEN'))
    .action(action(async (id: string, opts: { addr: string; datasets?: string; segments?: string; token?: string }) => {
      console.log(JSON.stringify(await grpcGet(opts.addr, id, opts.datasets ? opts.datasets.split(',') : [], opts.segments, opts.token), null, 2));
    }));
}

function registerSample(program: Command): void {
  program.command('sample').description('write a sample lake (Parquet) and, if absent, a malt.yaml that serves it')
    .option('--dir <dir>', 'where to write the lake', './lake').option('--players <n>', 'number of players', '100000')
    .option('--no-config', 'do not write malt.yaml')
    .action(action((opts: { dir: string; players: string; config: boolean }) => {
      const players = Number(opts.players);
      if (!Number.isSafeInteger(players) || players < 1) throw new MaltError('INVALID_ARGUMENT', `--players must be a positive integer, got ${opts.players}`);
      const dir = path.resolve(opts.dir);
      const s = writeSampleLake({ dir, players });
      console.log(`wrote ${s.players.toLocaleString('en-US')} players to ${dir}/player_features (${s.featureFiles.length} files) and ${s.segmentRows.toLocaleString('en-US')} segment rows to ${dir}/player_segments`);
      if (opts.config && !existsSync('malt.yaml')) {
        writeFileSync('malt.yaml', toYaml(sampleConfigDocument(path.relative(process.cwd(), dir) || '.')));
        const malt = `node ${JSON.stringify(path.resolve(fileURLToPath(import.meta.url), '../../../bin/malt.js'))}`;
        console.log(`wrote malt.yaml; next: ${malt} load && ${malt} serve`);
      }
    }));
}

export function registerAdminCommands(program: Command): void {
  registerVersions(program);
  registerRollback(program);
  registerGet(program);
  program.command('check-config').description('validate the config file and print the datasets it declares').addOption(configOption())
    .action(action((opts: { config?: string }) => {
      const cfg = config(opts);
      console.log(`config OK: ${cfg.datasets.map((d) => `${d.name} (${d.kind})`).join(', ')}`);
    }));
  registerSample(program);
}
