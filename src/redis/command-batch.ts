/**
 * The one way malt sends commands on data keys (the per-version bucket hashes, keys.ts): queue
 * single-key commands on a CommandBatch, then exec() them; results come back in queue order, and
 * the first failed command's error is thrown. Every data-key read (store/snapshot-reader.ts),
 * write (store/snapshot-writer.ts) and delete (store/data-reclaim.ts) goes through here.
 *
 * Today: one pipeline on the standalone client, and a lone command is sent as itself (no
 * MULTI/pipeline framing: the single-entity lookup stays one plain HGET).
 *
 * This is the single place where, later:
 *  (a) Redis Cluster goes: ioredis refuses a pipeline whose keys span slots allocation groups, so
 *      exec() will group the queued commands by node (cluster.slots of each key), run one
 *      pipeline per node in parallel, and scatter the answers back into queue order. Every
 *      command queued here is single-key, which is what makes that grouping possible; callers
 *      need not change.
 *  (b) Redis latency metrics go: time each exec() (per node, once grouped) around the pipeline.
 *
 * A batch is built with a few method calls and no per-command array, so the hot read path
 * allocates what it did when it built its pipeline by hand.
 */
import type { ChainableCommander, Redis } from 'ioredis';

/** Registered Lua scripts that take exactly one data key (KEYS[1]). */
export type DataScript = 'maltAddSegments';

type Lone =
  | { readonly op: 'hgetBuffer'; readonly key: string; readonly a: string }
  | { readonly op: 'hset'; readonly key: string; readonly a: string; readonly b: string | Buffer }
  | { readonly op: 'unlink'; readonly key: string }
  | { readonly op: 'script'; readonly key: string; readonly name: DataScript; readonly args: readonly string[] };

export class CommandBatch {
  private first: Lone | null = null;
  private pipeline: ChainableCommander | null = null;
  private count = 0;

  constructor(private readonly redis: Redis) {}

  get length(): number {
    return this.count;
  }

  /** HGET key field, the value as a Buffer (null when absent). */
  hgetBuffer(key: string, field: string): this {
    if (this.count++ === 0) this.first = { op: 'hgetBuffer', key, a: field };
    else this.piped().hgetBuffer(key, field);
    return this;
  }

  /** HSET key field value; answers 1 (new field) or 0 (overwritten). */
  hset(key: string, field: string, value: string | Buffer): this {
    if (this.count++ === 0) this.first = { op: 'hset', key, a: field, b: value };
    else this.piped().hset(key, field, value);
    return this;
  }

  unlink(key: string): this {
    if (this.count++ === 0) this.first = { op: 'unlink', key };
    else this.piped().unlink(key);
    return this;
  }

  /** A registered single-key script (lua-scripts.ts) on `key`. */
  script(name: DataScript, key: string, args: readonly string[]): this {
    if (this.count++ === 0) this.first = { op: 'script', key, name, args };
    else callOn(this.piped(), name, key, args);
    return this;
  }

  /** Sends every queued command; answers in queue order. Throws the first command error. */
  async exec(): Promise<unknown[]> {
    const first = this.first;
    if (this.count === 0 || first === null) return [];
    if (this.pipeline === null) return [await this.runLone(first)];
    const results = (await this.pipeline.exec()) ?? [];
    const out: unknown[] = new Array(results.length);
    for (let i = 0; i < results.length; i++) {
      const [err, value] = results[i] as [Error | null, unknown];
      if (err) throw err;
      out[i] = value;
    }
    return out;
  }

  private piped(): ChainableCommander {
    if (this.pipeline !== null) return this.pipeline;
    const p = this.redis.pipeline();
    const f = this.first as Lone;
    if (f.op === 'hgetBuffer') p.hgetBuffer(f.key, f.a);
    else if (f.op === 'hset') p.hset(f.key, f.a, f.b);
    else if (f.op === 'unlink') p.unlink(f.key);
    else callOn(p, f.name, f.key, f.args);
    this.pipeline = p;
    return p;
  }

  private runLone(f: Lone): Promise<unknown> {
    if (f.op === 'hgetBuffer') return this.redis.hgetBuffer(f.key, f.a);
    if (f.op === 'hset') return this.redis.hset(f.key, f.a, f.b);
    if (f.op === 'unlink') return this.redis.unlink(f.key);
    return callOn(this.redis, f.name, f.key, f.args) as Promise<unknown>;
  }
}

/** ioredis adds registered scripts as methods at runtime, on clients and pipelines alike. */
function callOn(target: Redis | ChainableCommander, name: DataScript, key: string, args: readonly string[]): unknown {
  const fn = (target as unknown as Record<string, (...a: string[]) => unknown>)[name];
  if (!fn) throw new Error(`script ${name} is not registered`);
  return fn.call(target, key, ...args);
}

/** A new batch on `redis`; script() needs the scripts registered on it (registerScripts). */
export function commandBatch(redis: Redis): CommandBatch {
  return new CommandBatch(redis);
}
