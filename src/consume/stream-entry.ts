/**
 * One Redis Stream entry of an `updates_stream` → one UpdateItem of the write path, or the reason
 * it cannot be one. Fields: `entity_id`, `op` (upsert | delete | add | remove), `values` (a JSON
 * object as a string; upserts), `segment` (add | remove), `event_time` (RFC 3339, optional).
 * Other fields are ignored, so producers may add their own (a trace id, a source name).
 *
 * An entry without `event_time` is timed by its stream id (the millisecond Redis accepted it),
 * not by when it is read: a redelivered or replayed entry then carries the same time, and
 * last-write-wins gives the same state however often it is applied.
 */
import type { UpdateItem } from '../updates/write-path.js';

/** An entry as ioredis returns it: the id and the flat field/value list (null when deleted). */
export type RawEntry = [id: string, fields: string[] | null];

export type ParsedEntry =
  | { readonly ok: true; readonly id: string; readonly item: UpdateItem; readonly fields: readonly string[] }
  | { readonly ok: false; readonly id: string; readonly code: string; readonly message: string; readonly fields: readonly string[] };

const OPS: ReadonlySet<string> = new Set(['upsert', 'delete', 'add', 'remove']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The catalog code every parse failure is dead-lettered with (the message says which rule). */
export const MALFORMED_CODE = 'UPDATE_INVALID';

function fieldMap(fields: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i] as string, fields[i + 1] as string);
  return m;
}

/** The time a stream id stands for (`<ms>-<seq>`), as RFC 3339. */
export function streamIdTime(id: string): string {
  const dash = id.indexOf('-');
  const ms = Number(dash < 0 ? id : id.slice(0, dash));
  return new Date(Number.isFinite(ms) ? ms : 0).toISOString();
}

function parseValues(raw: string | undefined): { values?: Record<string, unknown>; error?: string } {
  if (raw === undefined) return { error: 'an upsert needs "values" (a JSON object)' };
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    return { error: `"values" is not valid JSON: ${(err as Error).message}` };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { error: `"values" must be a JSON object, got ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}` };
  return { values: v as Record<string, unknown> };
}

function parseItem(id: string, f: Map<string, string>): UpdateItem | string {
  const entityId = f.get('entity_id');
  if (entityId === undefined || entityId === '') return 'missing "entity_id"';
  const op = f.get('op');
  if (op === undefined || op === '') return 'missing "op"';
  if (!OPS.has(op)) return `unknown op ${JSON.stringify(op)} (one of: upsert, delete, add, remove)`;
  const eventTime = f.get('event_time');
  if (eventTime !== undefined && (!RFC3339.test(eventTime) || Number.isNaN(Date.parse(eventTime)))) {
    return `"event_time" must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got ${JSON.stringify(eventTime)}`;
  }
  const base = { entity_id: entityId, event_time: eventTime ?? streamIdTime(id) };
  if (op === 'add' || op === 'remove') {
    const segment = f.get('segment');
    if (segment === undefined || segment === '') return `op "${op}" needs "segment"`;
    return { ...base, op, segment };
  }
  if (op === 'delete') return { ...base, op };
  const { values, error } = parseValues(f.get('values'));
  return error !== undefined ? error : { ...base, op: 'upsert', values: values as Record<string, unknown> };
}

/** Parses one entry; a deleted entry (fields null: trimmed before it was read) is malformed. */
export function parseEntry([id, fields]: RawEntry): ParsedEntry {
  if (fields === null) return { ok: false, id, code: MALFORMED_CODE, message: 'entry was deleted from the stream before it was applied', fields: [] };
  const item = parseItem(id, fieldMap(fields));
  return typeof item === 'string' ? { ok: false, id, code: MALFORMED_CODE, message: item, fields } : { ok: true, id, item, fields };
}
