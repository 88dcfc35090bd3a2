/**
 * The `malt` command line. Every command reads the config once (MALT_CONFIG, default
 * ./malt.yaml) and reports errors as "error CODE: message" with a non-zero exit code
 * (2 for an invalid config). Commands live in src/cli/.
 *
 * Start-up imports only the module of the command being run (`malt load` does not load
 * fastify, grpc-js or the serving path: ~0.6 CPU-s less per run, BENCHMARKS.md "second core");
 * `malt --help`, `malt help …` and unknown commands register every command, so help and
 * "unknown command" messages list them all.
 */
import { Command } from 'commander';

type Register = (program: Command) => void;

/** Each command's module and its register function, imported only when needed. */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  serve: async () => (await import('./cli/serve-command.js')).registerServe,
  demo: async () => (await import('./cli/serve-command.js')).registerServe,
  load: async () => (await import('./cli/load-command.js')).registerLoad,
  sync: async () => (await import('./cli/sync-command.js')).registerSync,
  consume: async () => (await import('./cli/consume-command.js')).registerConsume,
  versions: async () => (await import('./cli/admin-commands.js')).registerAdminCommands,
  rollback: async () => (await import('./cli/admin-commands.js')).registerAdminCommands,
  get: async () => (await import('./cli/admin-commands.js')).registerAdminCommands,
  sample: async () => (await import('./cli/admin-commands.js')).registerAdminCommands,
  'check-config': async () => (await import('./cli/admin-commands.js')).registerAdminCommands,
};

/** In help order. */
const ALL_MODULES: readonly string[] = ['serve', 'load', 'sync', 'consume', 'versions'];

/**
 * The CLI with the commands `args` (process.argv without node and the script) can run: only the
 * named command's when the first argument names one, else all of them.
 */
export async function buildCli(args: readonly string[] = []): Promise<Command> {
  const program = new Command('malt').description('Serve precomputed player data from your data lake in about a millisecond').showHelpAfterError();
  const named = args[0] !== undefined && Object.hasOwn(COMMANDS, args[0]) ? args[0] : undefined;
  for (const name of named !== undefined ? [named] : ALL_MODULES) (await COMMANDS[name]!())(program);
  return program;
}

await (await buildCli(process.argv.slice(2))).parseAsync(process.argv);
