/**
 * The one way malt sends commands on data keys (the per-version bucket hashes, keys.ts): callers
 * describe single-key commands as plain objects and runBatch() sends them as pipelines, answering
 * one outcome per command in the order given. Every data-key read (snapshot-reader.ts), write
 * (snapshot-writer.ts) and delete (snapshot-store.ts reclaim) goes through
 * here; test/store-seam.test.ts keeps it that way.
 *
 * Today: pipelines on the one standalone client, at most `chunkSize` commands each; a lone
 * command is sent as itself (no pipeline framing: the single-entity lookup stays one plain HGET).
 *
 * This is the single place where, later:
 *  - Redis Cluster goes: ioredis refuses a pipeline whose keys span slot allocation groups, so
 *    the commands will be grouped by node (each command names its one key), one pipeline per
 *    node run in parallel, and the outcomes scattered back into the caller's order. Callers need
 *    not change.
 *  - Redis latency metrics go: `onPipeline` is called with each pipeline's size and duration
 *    (per node, once grouped); nothing is timed when it is not set.
 *  - An update overlay is read: the reader adds the overlay's commands to the same batch, so
 *    base ⊕ overlay stays one round trip.
 */
import type { ChainableCommander, Cluster, Pipeline, Redis } from 'ioredis';
import { runClusterBatch } from './cluster-batch.js';
import { registerScripts } from './lua-scripts.js';
import { type HsetPairs, framedHset } from './resp-frame.js';

/** Registered Lua scripts (lua-scripts.ts) that take exactly one data key, KEYS[1]. */
export type DataScript = 'maltAddSegments' | 'maltApplyOverlay' | 'maltReclaimOverlay';

/** One single-key command on a data key. */
export type DataCommand =
  /** HGET key field, the value as a Buffer (reply null when absent). */
  | { readonly op: 'hgetBuffer'; readonly key: string; readonly field: string }
  /** HGETALL key as field → string (an update overlay, store/overlay-store.ts); {} when absent. */
  | { readonly op: 'hgetall'; readonly key: string }
  /** HSET key field value; reply 1 (new field) or 0 (overwritten). */
  | { readonly op: 'hset'; readonly key: string; readonly field: string; readonly value: string | Buffer }
  /**
   * HSET key field1 value1 field2 value2 … with the pairs already framed (resp-frame.ts; at least
   * one); reply: how many fields were new (the rest overwrote, a repeated field's later value winning).
   */
  | { readonly op: 'hsetPairs'; readonly key: string; readonly pairs: HsetPairs }
  /** UNLINK key; reply 1 (deleted) or 0 (absent). */
  | { readonly op: 'unlink'; readonly key: string }
  /** A registered single-key script on `key`; the reply is the script's. */
  | { readonly op: 'script'; readonly key: string; readonly script: DataScript; readonly args: readonly string[] };

/** One command's answer: [the error Redis gave for it, null] or [null, its reply]. */
export type CommandOutcome = [error: Error | null, reply: unknown];

export interface BatchOptions {
  /** Most commands in one pipeline (default 1000): bounds each request and reply buffer. */
  readonly chunkSize?: number;
  /**
   * Most pipelines outstanding at once (default: every chunk at once, which on one connection is
   * one round trip, as a single pipeline would be). 1 sends the chunks one after another.
   */
  readonly inFlight?: number;
  /** Called after each pipeline with its command count and milliseconds (metrics; off when unset). */
  readonly onPipeline?: (commands: number, ms: number) => void;
}

export const DEFAULT_CHUNK_SIZE = 1000;
const NO_OPTIONS: BatchOptions = {};

/**
 * Sends `commands`; resolves with one outcome per command, in the order given. A command Redis
 * refuses (e.g. WRONGTYPE) fails alone, as its outcome's error. When the connection fails, the
 * promise rejects or the failed commands' outcomes carry the connection error (as ioredis
 * reports it). An empty list sends nothing.
 */
export function runBatch(redis: Redis, commands: readonly DataCommand[], options: BatchOptions = NO_OPTIONS): Promise<CommandOutcome[]> {
  const n = commands.length;
  if (n === 0) return Promise.resolve([]);
  registerScripts(redis); // a WeakSet lookup once registered; pipelines copy the script methods
  // A Cluster client is handed out typed as Redis (redis/redis-client.ts); `isCluster` tells.
  if (redis.isCluster) return runClusterBatch(redis as unknown as Cluster, commands, options, { queue, send: (c) => send(redis, c) }, Math.max(1, Math.floor(options.chunkSize ?? DEFAULT_CHUNK_SIZE)));
  // Promise chains rather than async functions: the lone read is the hottest path, and each
  // async layer costs it a tick.
  if (n === 1) return sendLone(redis, commands[0] as DataCommand, options.onPipeline);
  const size = Math.max(1, Math.floor(options.chunkSize ?? DEFAULT_CHUNK_SIZE));
  if (n <= size) return execChunk(redis, commands, 0, n, options.onPipeline);
  return execChunks(redis, commands, size, options);
}

async function execChunks(redis: Redis, commands: readonly DataCommand[], size: number, options: BatchOptions): Promise<CommandOutcome[]> {
  const n = commands.length;
  const out: CommandOutcome[] = new Array(n);
  let next = 0;
  // Each lane sends its next chunk when its previous one is answered: at most `inFlight` out.
  const lane = async (): Promise<void> => {
    while (next < n) {
      const start = next;
      const end = Math.min(n, start + size);
      next = end;
      const outcomes = await execChunk(redis, commands, start, end, options.onPipeline);
      for (let i = 0; i < outcomes.length; i++) out[start + i] = outcomes[i] as CommandOutcome;
    }
  };
  const lanes = Math.min(Math.ceil(n / size), Math.max(1, Math.floor(options.inFlight ?? Infinity)));
  const running: Promise<void>[] = [];
  for (let l = 0; l < lanes; l++) running.push(lane());
  await Promise.all(running);
  return out;
}

/** The replies of `outcomes`, in order; throws the first command error. */
export function repliesOrThrow(outcomes: readonly CommandOutcome[]): unknown[] {
  const replies: unknown[] = new Array(outcomes.length);
  for (let i = 0; i < outcomes.length; i++) {
    const [err, reply] = outcomes[i] as CommandOutcome;
    if (err) throw err;
    replies[i] = reply;
  }
  return replies;
}

function execChunk(redis: Redis, commands: readonly DataCommand[], start: number, end: number, onPipeline: BatchOptions['onPipeline']): Promise<CommandOutcome[]> {
  const started = onPipeline ? performance.now() : 0;
  const pipeline = redis.pipeline();
  for (let i = start; i < end; i++) queue(pipeline, commands[i] as DataCommand);
  return pipeline.exec().then((outcomes) => {
    if (outcomes === null || outcomes.length !== end - start) throw new Error(`Redis answered ${outcomes?.length ?? 0} of ${end - start} pipelined commands`);
    if (onPipeline) onPipeline(end - start, performance.now() - started);
    return outcomes;
  });
}

function queue(p: ChainableCommander, c: DataCommand): void {
  switch (c.op) {
    case 'hgetBuffer': p.hgetBuffer(c.key, c.field); break;
    case 'hgetall': p.hgetall(c.key); break;
    case 'hset': p.hset(c.key, c.field, c.value); break;
    case 'hsetPairs': (p as unknown as Pipeline).sendCommand(framedHset(c.key, c.pairs)); break;
    case 'unlink': p.unlink(c.key); break;
    case 'script': scriptOn(p, c.script)(c.key, ...c.args); break;
  }
}

function sendLone(redis: Redis, c: DataCommand, onPipeline: BatchOptions['onPipeline']): Promise<CommandOutcome[]> {
  let reply: Promise<unknown>;
  try {
    reply = send(redis, c);
  } catch (err) {
    return Promise.reject(err);
  }
  if (!onPipeline) return reply.then(loneReply, loneError);
  const started = performance.now();
  const timed = (): void => onPipeline(1, performance.now() - started);
  return reply.then(loneReply, loneError).finally(timed);
}

// Module-level, so the lone path allocates no closures.
function loneReply(value: unknown): CommandOutcome[] {
  return [[null, value]];
}

function loneError(err: Error): CommandOutcome[] {
  // A refused command (a ReplyError) is that command's outcome, as in a pipeline; a lost
  // connection rejects, as a failed pipeline does.
  if (err.name !== 'ReplyError') throw err;
  return [[err, null]];
}

function send(redis: Redis, c: DataCommand): Promise<unknown> {
  if (c.op === 'hgetBuffer') return redis.hgetBuffer(c.key, c.field);
  if (c.op === 'hset') return redis.hset(c.key, c.field, c.value);
  if (c.op === 'hsetPairs') {
    const command = framedHset(c.key, c.pairs);
    redis.sendCommand(command);
    return command.promise;
  }
  if (c.op === 'unlink') return redis.unlink(c.key);
  if (c.op === 'hgetall') return redis.hgetall(c.key);
  return scriptOn(redis, c.script)(c.key, ...c.args) as Promise<unknown>;
}

/** ioredis adds registered scripts as methods at runtime, on clients and pipelines alike. */
function scriptOn(target: Redis | ChainableCommander, name: DataScript): (...args: string[]) => unknown {
  const fn = (target as unknown as Record<string, (...a: string[]) => unknown>)[name];
  if (!fn) throw new Error(`script ${name} is not registered`);
  return fn.bind(target);
}
