/**
 * Which node flags malt's launcher (bin/malt.js) runs a command with: MALT_NODE_FLAGS (e.g.
 * `--max-semi-space-size=32`), applied to every command. V8 reads such flags only at start-up,
 * so the launcher re-runs node with them; with none to add it runs the CLI in its own process.
 *
 * Overrides: a flag already given to node (its command line or NODE_OPTIONS) is never added
 * again. The serving commands have no default flags: a larger young generation
 * (`--max-semi-space-size` 32 and 64, `--min-semi-space-size` 16 and 64) cut scavenges per call
 * 2-15x but did not lower gRPC p99 in bench/tails.mjs and made the longest scavenge longer once
 * calls queued (BENCHMARKS.md "gRPC tail latency"); SERVING_COMMANDS/DEFAULT_SERVING_FLAGS is
 * where a default that measures better goes.
 */

/** Commands that serve requests: the ones DEFAULT_SERVING_FLAGS is for. */
export const SERVING_COMMANDS: readonly string[] = ['serve', 'demo'];

/** Node flags `serve` and `demo` get when MALT_NODE_FLAGS is unset: none (see above). */
export const DEFAULT_SERVING_FLAGS: readonly string[] = [];

/** Set by the launcher in the process it re-spawns, so that process runs the CLI itself. */
export const LAUNCHED_ENV = 'MALT_LAUNCHED';

export interface LaunchInput {
  /** The CLI arguments (process.argv.slice(2)). */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** node's own flags for this process (process.execArgv). */
  readonly execArgv: readonly string[];
}

const flagName = (f: string): string => f.split('=')[0]!.replace(/_/g, '-');

function splitFlags(s: string): string[] {
  return s.split(/\s+/).filter(Boolean);
}

/** The first argument that is not an option: the command (`malt --help` has none). */
function commandOf(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

/**
 * The flags to add (none: run the CLI in this process). Defaults apply to SERVING_COMMANDS only;
 * MALT_NODE_FLAGS applies to every command when set.
 */
export function launchFlags(input: LaunchInput): string[] {
  const { env } = input;
  if (env[LAUNCHED_ENV] === '1') return [];
  const custom = env['MALT_NODE_FLAGS'];
  let wanted: readonly string[];
  if (custom !== undefined) wanted = splitFlags(custom);
  else wanted = SERVING_COMMANDS.includes(commandOf(input.args) ?? '') ? DEFAULT_SERVING_FLAGS : [];
  const given = new Set([...input.execArgv, ...splitFlags(env['NODE_OPTIONS'] ?? '')].map(flagName));
  return wanted.filter((f) => !given.has(flagName(f)));
}
