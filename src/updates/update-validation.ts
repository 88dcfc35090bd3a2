/**
 * Validates one pushed update against its dataset's kind and served columns, and turns it into
 * overlay entries (store/overlay-store.ts). Pure: no I/O. Per-item codes (docs/updates.md):
 * INVALID_ENTITY_ID, INVALID_OP, INVALID_VALUES, UNKNOWN_COLUMN, INVALID_VALUE, INVALID_SEGMENT,
 * INVALID_EVENT_TIME, EVENT_TOO_OLD.
 */
import { type ColumnType, parseDefault, parseTimestampMicros } from '../column-types.js';
import { entityIdProblem } from '../entity-id.js';
import type { DatasetKind } from '../model/types.js';
import { type OverlayEntry, ROW_TOMBSTONE_FIELD, columnField, columnPayload, payloadTie, segmentField } from '../store/overlay-store.js';

export type ItemOutcome = { readonly entityId: string; readonly entries: OverlayEntry[] } | { readonly code: string; readonly message: string };

/** Event times must stay below 2^53 µs (year 2255): the Lua script compares them as doubles. */
const MAX_EVENT_MICROS = 2n ** 53n - 1n;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const fail = (code: string, message: string): ItemOutcome => ({ code, message });

export function validateItem(raw: unknown, kind: DatasetKind, columns: ReadonlyMap<string, ColumnType>, nowMicros: bigint, oldestMicros: bigint): ItemOutcome {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('INVALID_ARGUMENT', 'an update must be an object');
  const item = raw as Record<string, unknown>;
  const id = item['entity_id'];
  const idProblem = entityIdProblem(id);
  if (idProblem) return fail('INVALID_ENTITY_ID', idProblem);
  let at = nowMicros;
  const et = item['event_time'];
  if (et !== undefined && et !== null && et !== '') {
    const us = typeof et === 'string' && RFC3339.test(et) ? parseTimestampMicros(et) : null;
    if (us === null) return fail('INVALID_EVENT_TIME', `event_time must be an RFC 3339 timestamp, got ${JSON.stringify(et)}`);
    if (us < 0n || us > MAX_EVENT_MICROS) return fail('INVALID_EVENT_TIME', `event_time ${et} is outside 1970-01-01..2255-06-05`);
    if (us < oldestMicros) return fail('EVENT_TOO_OLD', `event_time ${et} is older than the dataset's updates.retention`);
    at = us;
  }
  const op = item['op'];
  if (kind === 'segments') {
    if (op !== 'add' && op !== 'remove') return fail('INVALID_OP', `op must be "add" or "remove" for a segments dataset, got ${JSON.stringify(op)}`);
    const segment = item['segment'];
    if (typeof segment !== 'string' || segment.length === 0 || Buffer.byteLength(segment) > 256 || CONTROL.test(segment)) {
      return fail('INVALID_SEGMENT', 'segment must be a non-empty string of at most 256 bytes without control characters');
    }
    // Tie rule: at the same event time, remove (1) wins over add (0).
    return { entityId: id as string, entries: [{ field: segmentField(segment), at, tie: op === 'remove' ? 1 : 0, payload: op === 'remove' ? 'r' : 'a' }] };
  }
  if (op === 'delete') return { entityId: id as string, entries: [{ field: ROW_TOMBSTONE_FIELD, at, tie: 0, payload: 'd' }] };
  if (op !== 'upsert') return fail('INVALID_OP', `op must be "upsert" or "delete" for a features dataset, got ${JSON.stringify(op)}`);
  const values = item['values'];
  if (typeof values !== 'object' || values === null || Array.isArray(values) || Object.keys(values).length === 0) {
    return fail('INVALID_VALUES', 'an upsert needs "values": an object of column → value with at least one column');
  }
  const entries: OverlayEntry[] = [];
  for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
    const type = columns.get(name);
    if (type === undefined) return fail('UNKNOWN_COLUMN', `column ${JSON.stringify(name)} is not served by this dataset`);
    const json = valueJson(type, value);
    if (typeof json !== 'string') return fail('INVALID_VALUE', `column ${name} (${type}): ${json.error}`);
    const payload = columnPayload(type, json);
    entries.push({ field: columnField(name), at, tie: payloadTie(payload), payload });
  }
  return { entityId: id as string, entries };
}

/** The stored JSON of a value given as in responses; timestamps are kept as µs strings. */
function valueJson(type: ColumnType, value: unknown): string | { error: string } {
  if (value === null) return 'null';
  if (type === 'double') {
    if (typeof value === 'number' && Number.isFinite(value)) return JSON.stringify(value);
    if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return JSON.stringify(value);
    return { error: `expected a number, got ${JSON.stringify(value)}` };
  }
  if (type === 'int64' && typeof value !== 'string') return { error: `expected an integer as a decimal string, got ${JSON.stringify(value)}` };
  if (type === 'timestamp' && (typeof value !== 'string' || !RFC3339.test(value))) return { error: `expected an RFC 3339 timestamp, got ${JSON.stringify(value)}` };
  const parsed = parseDefault(type, value);
  if ('error' in parsed) return parsed;
  return type === 'timestamp' ? `"${String(parsed.value)}"` : JSON.stringify(parsed.value);
}
