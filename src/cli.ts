/**
 * The `malt` command line. Every command reads the config once (MALT_CONFIG, default
 * ./malt.yaml) and reports errors as "error CODE: message" with a non-zero exit code
 * (2 for an invalid config). Commands live in src/cli/.
 */
import { Command } from 'commander';
import { registerAdminCommands } from './cli/admin-commands.js';
import { registerConsume } from './cli/consume-command.js';
import { registerLoad } from './cli/load-command.js';
import { registerServe } from './cli/serve-command.js';
import { registerSync } from './cli/sync-command.js';

export function buildCli(): Command {
  const program = new Command('malt').description('Serve precomputed player data from your data lake in about a millisecond').showHelpAfterError();
  registerServe(program);
  registerLoad(program);
  registerSync(program);
  registerConsume(program);
  registerAdminCommands(program);
  return program;
}

await buildCli().parseAsync(process.argv);
