/**
 * One Kafka record of an `updates_kafka` topic → one UpdateItem of the write path, or the reason
 * it cannot be one. The value is a JSON object with the fields of a Redis Streams entry
 * (`entity_id`, `op`, `values`, `segment`, `event_time`); `values` is a JSON object here (a string
 * holding one is accepted too). The record key may carry the entity id: it is used when the value
 * has no `entity_id`, and a value whose `entity_id` differs from the key is refused (the key
 * decides the partition, so a mismatch is a producer bug that would break per-entity ordering).
 *
 * The fields are then validated by the same rules as a stream entry (stream-entry.ts parseEntry).
 * A record without `event_time` is timed by its record timestamp, which stays the same when it is
 * redelivered, so a replay gives the same state. Ids are `<partition>-<offset>`, which the
 * stream-id ordering of apply-entries.ts sorts correctly.
 */
import { MALFORMED_CODE, parseEntry, type ParsedEntry } from './stream-entry.js';

/** The parts of a consumed record the decoder needs (as @platformatic/kafka hands them, Buffers). */
export interface KafkaRecordIn {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null | undefined;
  readonly value: Buffer | null | undefined;
  /** Milliseconds since the epoch (CreateTime, or LogAppendTime when the topic says so). */
  readonly timestamp: bigint;
}

export const recordId = (partition: number, offset: bigint): string => `${partition}-${offset}`;

const STRING_FIELDS = ['op', 'segment', 'event_time'] as const;

function malformed(id: string, message: string): ParsedEntry {
  return { ok: false, id, code: MALFORMED_CODE, message, fields: [] };
}

function entityIdOf(v: unknown, key: string | null): string | { error: string } {
  let id: string | null = null;
  if (typeof v === 'string') id = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) id = String(v);
  else if (v !== undefined && v !== null) return { error: `"entity_id" must be a string, got ${JSON.stringify(v)}` };
  if (id !== null && key !== null && key !== '' && id !== key) return { error: `"entity_id" ${JSON.stringify(id)} differs from the record key ${JSON.stringify(key)}` };
  return id ?? key ?? '';
}

/** Decodes one record; never throws (a bad record comes back as `ok: false` with the reason). */
export function parseKafkaRecord(rec: KafkaRecordIn): ParsedEntry {
  const id = recordId(rec.partition, rec.offset);
  if (!rec.value || rec.value.length === 0) return malformed(id, 'record has no value (a tombstone or an empty record); expected a JSON object');
  let doc: unknown;
  try {
    doc = JSON.parse(rec.value.toString('utf8'));
  } catch (err) {
    return malformed(id, `record value is not valid JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return malformed(id, `record value must be a JSON object, got ${Array.isArray(doc) ? 'an array' : JSON.stringify(doc)}`);
  const o = doc as Record<string, unknown>;
  const key = rec.key && rec.key.length > 0 ? rec.key.toString('utf8') : null;
  const entity = entityIdOf(o['entity_id'], key);
  if (typeof entity !== 'string') return malformed(id, entity.error);
  const fields: string[] = ['entity_id', entity];
  for (const f of STRING_FIELDS) {
    const v = o[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return malformed(id, `"${f}" must be a string, got ${JSON.stringify(v)}`);
    fields.push(f, v);
  }
  if (o['event_time'] === undefined || o['event_time'] === null) fields.push('event_time', new Date(Number(rec.timestamp)).toISOString());
  const values = o['values'];
  if (values !== undefined && values !== null) fields.push('values', typeof values === 'string' ? values : JSON.stringify(values));
  return parseEntry([id, fields]);
}
