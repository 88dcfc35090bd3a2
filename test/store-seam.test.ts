/**
 * Every command on data keys (the per-version bucket hashes) goes through store/: a static scan
 * of src/ that fails when a file elsewhere issues Redis pipelines, hash commands, deletes or
 * data-key scripts, or names bucket keys; and the one batching helper, against a real Redis.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyLayout, bucketOf } from '../src/keys.js';
import { type CommandOutcome, type DataCommand, runBatch, repliesOrThrow } from '../src/store/command-batch.js';
import { SnapshotReader } from '../src/store/snapshot-reader.js';
import { ownRedis, uniquePrefix } from './support/fixtures.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/** What only store/ (and redis/, the client) may do, each as a pattern on comment-free source. */
const RULES: readonly { readonly name: string; readonly re: RegExp }[] = [
  { name: 'pipeline or transaction', re: /\.(?:pipeline|multi)\s*\(/g },
  { name: 'hash command', re: /\.(?:hget|hgetBuffer|hmget|hmgetBuffer|hgetall|hgetallBuffer|hset|hsetnx|hmset|hdel|hexists|hlen|hkeys|hvals|hscan|hscanStream)\s*\(/gi },
  { name: 'key delete', re: /\.(?:unlink|del|getdel|flushdb|flushall)\s*\(/gi },
  { name: 'raw command or script', re: /\.(?:sendCommand|eval|evalsha|evalBuffer|callBuffer|maltAddSegments)\s*\(|\bcallScript\s*\(/g },
  { name: 'bucket key', re: /\bbucketOf\s*\(|\.bucket\s*\(/g },
  { name: 'batching helper', re: /store\/command-batch\.js/g },
];

/** Files outside store/ allowed one rule, and why. Each entry is a debt, not a design. */
const EXCEPTIONS: readonly { readonly file: string; readonly rule: string; readonly why: string }[] = [
  { file: 'keys.ts', rule: 'bucket key', why: 'defines bucketOf and KeyLayout.bucket (the key layout)' },
  { file: 'consume/dead-letter.ts', rule: 'pipeline or transaction', why: 'a MULTI of XADD + XACK on stream keys, no data key' },
  { file: 'consume/kafka-dead-letter.ts', rule: 'pipeline or transaction', why: 'a MULTI of XADDs to one dead-letter stream key (one slot), no data key' },
];

/** Source without comments (block, and line comments not part of a URL such as redis://). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:\\])\/\/.*$/gm, '$1');
}

/** Every rule `text` breaks, as "file:line rule: match". */
function violations(file: string, text: string): string[] {
  const out: string[] = [];
  const code = withoutComments(text);
  for (const rule of RULES) {
    if (EXCEPTIONS.some((e) => e.file === file && e.rule === rule.name)) continue;
    for (const m of code.matchAll(rule.re)) {
      const line = code.slice(0, m.index).split('\n').length;
      out.push(`${file}:${line} ${rule.name}: ${m[0]}`);
    }
  }
  return out;
}

function sourcesOutsideStore(): { file: string; text: string }[] {
  return readdirSync(SRC, { recursive: true })
    .map((f) => String(f).split(path.sep).join('/'))
    .filter((f) => f.endsWith('.ts') && !f.startsWith('store/') && !f.startsWith('redis/'))
    .map((file) => ({ file, text: readFileSync(path.join(SRC, file), 'utf8') }));
}

describe('data keys are only touched in store/', () => {
  it('no file outside src/store and src/redis issues data-key commands or builds bucket keys', () => {
    const found = sourcesOutsideStore().flatMap(({ file, text }) => violations(file, text));
    expect(found, `move these behind src/store (command-batch.ts, snapshot-reader.ts):\n${found.join('\n')}`).toEqual([]);
  });

  it('the scan sees the reads, writes and deletes it forbids, and not comments about them', () => {
    const sample = [
      'const p = this.redis.pipeline();',
      'await redis.hgetBuffer(key, id);',
      'await client.HSET(key, id, v);',
      'await this.redis.unlink(k);',
      'tx.multi().del(k)',
      "(pipeline as any).maltAddSegments(key, ...args); callScript(redis, 'maltAddSegments', [key], args)",
      'const key = prefix + bucketOf(id, n);',
      "import { runBatch } from '../store/command-batch.js';",
      '// redis.pipeline() is how we used to do it',
      "const url = 'redis://127.0.0.1'; // hset(",
      '/* hgetBuffer( */',
    ].join('\n');
    const found = violations('serving/some-new-file.ts', sample);
    expect(found).toEqual([
      'serving/some-new-file.ts:1 pipeline or transaction: .pipeline(',
      'serving/some-new-file.ts:5 pipeline or transaction: .multi(',
      'serving/some-new-file.ts:2 hash command: .hgetBuffer(',
      'serving/some-new-file.ts:3 hash command: .HSET(',
      'serving/some-new-file.ts:4 key delete: .unlink(',
      'serving/some-new-file.ts:5 key delete: .del(',
      "serving/some-new-file.ts:6 raw command or script: .maltAddSegments(",
      "serving/some-new-file.ts:6 raw command or script: callScript(",
      'serving/some-new-file.ts:7 bucket key: bucketOf(',
      'serving/some-new-file.ts:8 batching helper: store/command-batch.js',
    ]);
    // The exceptions are per file and per rule: dead-letter.ts's MULTI exception allows no hash command.
    expect(violations('consume/dead-letter.ts', 'this.redis.pipeline().hset(k, f, v)')).toHaveLength(1);
  });

  it('every exception names a file that exists and still needs it', () => {
    const sources = new Map(sourcesOutsideStore().map(({ file, text }) => [file, withoutComments(text)]));
    for (const e of EXCEPTIONS) {
      const rule = RULES.find((r) => r.name === e.rule);
      expect(rule, e.rule).toBeDefined();
      expect(sources.get(e.file)?.match(rule!.re), `${e.file} no longer needs "${e.rule}": drop the exception`).not.toBeNull();
    }
  });
});

describe('runBatch on a real Redis', () => {
  const server = ownRedis();
  let redis: Redis;
  let prefix: string;

  beforeAll(() => {
    redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    prefix = uniquePrefix();
    return new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  });
  afterAll(async () => {
    redis.disconnect();
  });

  it('answers a large mixed batch in order, in pipelines of at most chunkSize', async () => {
    const n = 3000;
    const writes: DataCommand[] = [];
    for (let i = 0; i < n; i++) writes.push({ op: 'hset', key: `${prefix}:h${i % 37}`, field: `f${i}`, value: `v${i}` });
    const sizes: number[] = [];
    const written = await runBatch(redis, writes, { chunkSize: 256, onPipeline: (size) => sizes.push(size) });
    expect(written).toHaveLength(n);
    expect(written.every(([err, reply]) => err === null && reply === 1)).toBe(true);
    expect(sizes).toHaveLength(Math.ceil(n / 256));
    expect(Math.max(...sizes)).toBe(256);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(n);

    // Reads interleaved with absent fields and deletes: each answer is its own command's.
    const mixed: DataCommand[] = [];
    for (let i = n - 1; i >= 0; i--) {
      mixed.push({ op: 'hgetBuffer', key: `${prefix}:h${i % 37}`, field: `f${i}` });
      if (i % 500 === 0) mixed.push({ op: 'hgetBuffer', key: `${prefix}:h${i % 37}`, field: `absent${i}` });
    }
    mixed.push({ op: 'unlink', key: `${prefix}:h0` }, { op: 'unlink', key: `${prefix}:h0` });
    const replies = repliesOrThrow(await runBatch(redis, mixed, { chunkSize: 100 }));
    let r = 0;
    for (let i = n - 1; i >= 0; i--) {
      expect((replies[r++] as Buffer).toString()).toBe(`v${i}`);
      if (i % 500 === 0) expect(replies[r++]).toBeNull();
    }
    expect(replies.slice(r)).toEqual([1, 0]);
  });

  it('a refused command fails alone, in a pipeline and sent by itself', async () => {
    await redis.set(`${prefix}:str`, 'not a hash');
    const outcomes = await runBatch(redis, [
      { op: 'hset', key: `${prefix}:ok`, field: 'a', value: Buffer.from([0, 255]) },
      { op: 'hset', key: `${prefix}:str`, field: 'a', value: 'x' },
      { op: 'hgetBuffer', key: `${prefix}:ok`, field: 'a' },
      { op: 'hgetBuffer', key: `${prefix}:str`, field: 'a' },
    ]);
    expect(outcomes.map(([err]) => (err ? /WRONGTYPE/.test(err.message) : null))).toEqual([null, true, null, true]);
    expect(outcomes[0]![1]).toBe(1);
    expect(outcomes[2]![1]).toEqual(Buffer.from([0, 255]));
    expect(() => repliesOrThrow(outcomes)).toThrow(/WRONGTYPE/);

    const lone: CommandOutcome[] = await runBatch(redis, [{ op: 'hgetBuffer', key: `${prefix}:str`, field: 'a' }]);
    expect(lone).toHaveLength(1);
    expect(lone[0]![0]?.message).toMatch(/WRONGTYPE/);
    expect(await runBatch(redis, [])).toEqual([]);
  });

  it('runs registered data-key scripts, and sends chunks one after another with inFlight 1', async () => {
    const commands: DataCommand[] = [];
    for (let b = 0; b < 40; b++) commands.push({ op: 'script', script: 'maltAddSegments', key: `${prefix}:seg${b}`, args: ['p1', 'whale', 'p2', 'lapsed', 'p1', 'whale'] });
    const spans: [number, number][] = [];
    const outcomes = await runBatch(redis, commands, { chunkSize: 7, inFlight: 1, onPipeline: (_n, ms) => spans.push([performance.now() - ms, performance.now()]) });
    expect(repliesOrThrow(outcomes)).toEqual(new Array(40).fill([2, 1]));
    expect(JSON.parse(String(await redis.hget(`${prefix}:seg39`, 'p1')))).toEqual(['whale']);
    expect(spans).toHaveLength(6);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1] - 0.5);
  });

  it('SnapshotReader reads rows across versions in request order, and a lost Redis is STORE_UNAVAILABLE', async () => {
    const keys = new KeyLayout(prefix);
    const v1 = { bucketPrefix: keys.bucketPrefix('ds', 1), buckets: 3 };
    const v2 = { bucketPrefix: keys.bucketPrefix('other', 7), buckets: 1 };
    await redis.hset(v1.bucketPrefix + bucketOf('p1', 3), 'p1', 'row-p1');
    await redis.hset(v1.bucketPrefix + bucketOf('p2', 3), 'p2', 'row-p2');
    await redis.hset(v2.bucketPrefix + '0', 'p1', 'other-p1');
    const reader = new SnapshotReader(redis);
    const rows = await reader.rows([{ v: v1, id: 'p2' }, { v: v2, id: 'p1' }, { v: v1, id: 'nobody' }, { v: v1, id: 'p1' }]);
    expect(rows.map((b) => b?.toString() ?? null)).toEqual(['row-p2', 'other-p1', null, 'row-p1']);
    expect((await reader.rows([{ v: v1, id: 'p1' }])).map(String)).toEqual(['row-p1']);

    const gone = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
    const err = await new SnapshotReader(gone).rows([{ v: v1, id: 'p1' }, { v: v1, id: 'p2' }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    gone.disconnect();
  });
});
