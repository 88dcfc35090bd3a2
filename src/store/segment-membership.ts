/**
 * Reads the stored segment memberships of a segments version (bucket hashes, keys.ts: field =
 * entity id, value = JSON array of its segments) for the segment enter/exit events: a batch of
 * entities at once, or the whole version bucket by bucket. Every data-key read goes through
 * command-batch.ts.
 */
import type { Redis } from 'ioredis';
import { bucketOf } from '../keys.js';
import { type DataCommand, runBatch } from './command-batch.js';

/** Where a segments version's memberships live: its bucket key prefix and bucket count. */
export interface MembershipVersion {
  readonly bucketPrefix: string;
  readonly buckets: number;
}

function parseList(raw: unknown): string[] {
  if (raw === null || raw === undefined) return [];
  const v = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw)) as unknown;
  return Array.isArray(v) ? v.map(String) : [];
}

/** The segments of each entity in `ids` (one batch, one HGET each); absent entities are []. */
export async function readMemberships(redis: Redis, v: MembershipVersion, ids: readonly string[]): Promise<Map<string, string[]>> {
  const commands: DataCommand[] = ids.map((id) => ({ op: 'hgetBuffer', key: v.bucketPrefix + bucketOf(id, v.buckets), field: id }));
  const outcomes = await runBatch(redis, commands);
  const out = new Map<string, string[]>();
  ids.forEach((id, i) => {
    const [err, raw] = outcomes[i]!;
    if (err) throw err;
    out.set(id, parseList(raw));
  });
  return out;
}

/**
 * Every entity of the version with its segments, `bucketsPerRound` buckets (HGETALL each) per
 * batch: memory stays at about bucketsPerRound × BUCKET_TARGET entities whatever the size.
 */
export async function* scanMemberships(redis: Redis, v: MembershipVersion, bucketsPerRound = 64): AsyncGenerator<[string, string[]][]> {
  for (let start = 0; start < v.buckets; start += bucketsPerRound) {
    const commands: DataCommand[] = [];
    for (let b = start; b < Math.min(v.buckets, start + bucketsPerRound); b++) commands.push({ op: 'hgetall', key: v.bucketPrefix + b });
    const round: [string, string[]][] = [];
    for (const [err, fields] of await runBatch(redis, commands)) {
      if (err) throw err;
      for (const [id, raw] of Object.entries(fields as Record<string, string>)) round.push([id, parseList(raw)]);
    }
    yield round;
  }
}
