/**
 * runBatch on a Redis Cluster (command-batch.ts calls it when the client `isCluster`). ioredis
 * refuses a pipeline whose keys live on different nodes, so the commands are grouped by the node
 * set that owns each key's slot (the client's slot map), one pipeline per node — at most
 * `chunkSize` commands each — sent in parallel, and the outcomes put back in the caller's order.
 *
 * During a resharding or a failover some commands come back refused: MOVED or ASK (the slot is
 * moving or has moved), TRYAGAIN, CLUSTERDOWN, or a connection closed under a failing master.
 * None of these ran, so they are sent again — each on its own, where ioredis follows the
 * redirection (ASKING included) and refreshes its slot map — until they succeed or
 * CLUSTER_RETRY_WINDOW_MS has passed since the batch began; past it the batch rejects with
 * STORE_UNAVAILABLE. Any other refusal (e.g. WRONGTYPE) stays that command's outcome, as on a
 * standalone Redis. docs/redis-cluster.md.
 */
import type { ChainableCommander, Cluster } from 'ioredis';
import { MaltError } from '../errors.js';
import { keySlot } from './key-slot.js';

/** The parts of command-batch.ts's types used here (no import back: no cycle). */
interface KeyedCommand { readonly key: string }
type CommandOutcome = [error: Error | null, reply: unknown];
interface BatchOptions {
  readonly inFlight?: number;
  readonly onPipeline?: (commands: number, ms: number) => void;
}

/** Longest a batch keeps retrying commands a resharding or failover refused (ms). */
export const CLUSTER_RETRY_WINDOW_MS = 5000;
const RETRY_PAUSE_MS = 50;

/** How command-batch.ts sends one command: queued on a pipeline, or alone. */
export interface CommandSender<DataCommand extends KeyedCommand> {
  queue(p: ChainableCommander, c: DataCommand): void;
  send(c: DataCommand): Promise<unknown>;
}

const RETRIABLE = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|LOADING|READONLY) |Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|same slots allocation group|Cluster isn't ready|Too many Cluster redirections|Failed to refresh slots cache/;

export function isRetriableClusterError(err: Error): boolean {
  return RETRIABLE.test(err.message);
}

export async function runClusterBatch<DataCommand extends KeyedCommand>(cluster: Cluster, commands: readonly DataCommand[], options: BatchOptions, sender: CommandSender<DataCommand>, chunkSize: number): Promise<CommandOutcome[]> {
  const began = Date.now();
  const out: CommandOutcome[] = new Array(commands.length);
  await Promise.all(groupByNode(cluster, commands).map((group) => runGroup(cluster, commands, group, out, options, sender, chunkSize)));
  let retry = failedRetriably(out);
  while (retry.length > 0) {
    if (Date.now() - began >= CLUSTER_RETRY_WINDOW_MS) {
      const err = (out[retry[0] as number] as CommandOutcome)[0] as Error;
      throw new MaltError('STORE_UNAVAILABLE', `Redis Cluster did not settle within ${CLUSTER_RETRY_WINDOW_MS} ms: ${err.message}`);
    }
    await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
    await Promise.all(retry.map((i) => sendAlone(sender, commands[i] as DataCommand).then((o) => { out[i] = o; })));
    retry = failedRetriably(out);
  }
  return out;
}

/** Command indexes grouped by the node set owning their slot; unknown slots form one group. */
function groupByNode(cluster: Cluster, commands: readonly KeyedCommand[]): number[][] {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < commands.length; i++) {
    const owner = cluster.slots[keySlot((commands[i] as KeyedCommand).key)]?.join(';') ?? '?';
    let g = groups.get(owner);
    if (!g) groups.set(owner, (g = []));
    g.push(i);
  }
  return [...groups.values()];
}

async function runGroup<DataCommand extends KeyedCommand>(cluster: Cluster, commands: readonly DataCommand[], group: readonly number[], out: CommandOutcome[], options: BatchOptions, sender: CommandSender<DataCommand>, chunkSize: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < group.length) {
      const chunk = group.slice(next, next + chunkSize);
      next += chunk.length;
      const outcomes = await execPipeline(cluster, commands, chunk, sender, options.onPipeline);
      for (let k = 0; k < chunk.length; k++) out[chunk[k] as number] = outcomes[k] as CommandOutcome;
    }
  };
  const lanes = Math.min(Math.ceil(group.length / chunkSize), Math.max(1, Math.floor(options.inFlight ?? Infinity)));
  const running: Promise<void>[] = [];
  for (let l = 0; l < lanes; l++) running.push(lane());
  await Promise.all(running);
}

/** One node's pipeline; a pipeline refused or lost as a whole marks each of its commands. */
async function execPipeline<DataCommand extends KeyedCommand>(cluster: Cluster, commands: readonly DataCommand[], chunk: readonly number[], sender: CommandSender<DataCommand>, onPipeline: BatchOptions['onPipeline']): Promise<CommandOutcome[]> {
  const started = onPipeline ? performance.now() : 0;
  const pipeline = cluster.pipeline();
  for (const i of chunk) sender.queue(pipeline, commands[i] as DataCommand);
  let outcomes: CommandOutcome[] | null;
  try {
    outcomes = await pipeline.exec();
  } catch (err) {
    if (!isRetriableClusterError(err as Error)) throw err;
    return chunk.map((): CommandOutcome => [err as Error, null]);
  }
  if (outcomes === null || outcomes.length !== chunk.length) throw new Error(`Redis answered ${outcomes?.length ?? 0} of ${chunk.length} pipelined commands`);
  if (onPipeline) onPipeline(chunk.length, performance.now() - started);
  return outcomes;
}

function sendAlone<DataCommand extends KeyedCommand>(sender: CommandSender<DataCommand>, c: DataCommand): Promise<CommandOutcome> {
  let reply: Promise<unknown>;
  try {
    reply = sender.send(c);
  } catch (err) {
    return Promise.resolve([err as Error, null]);
  }
  return reply.then((v): CommandOutcome => [null, v], (err: Error): CommandOutcome => [err, null]);
}

function failedRetriably(out: readonly CommandOutcome[]): number[] {
  const idx: number[] = [];
  for (let i = 0; i < out.length; i++) {
    const err = (out[i] as CommandOutcome)[0];
    if (err && isRetriableClusterError(err)) idx.push(i);
  }
  return idx;
}
