/**
 * Call specs for the interop clients (test/support/grpc-interop.ts), and what HTTP returns turned
 * into the proto3 JSON form the clients print (.proto field names, int64 as strings, enums by
 * name, unset fields left out), so the two can be compared with toEqual.
 */
import { PLAYER_COLUMNS } from './fixtures.js';
import type { InteropCall } from './grpc-interop.js';

export const SERVING = '/malt.v1.Serving/';
export const get = (id: string, entity: string, datasets: string[], extra: Partial<InteropCall> = {}): InteropCall =>
  ({ id, method: `${SERVING}Get`, request_type: 'malt.v1.GetRequest', response_type: 'malt.v1.EntityResult', request: { entity_id: entity, datasets }, ...extra });
export const batch = (id: string, ids: string[], datasets: string[], extra: Partial<InteropCall> = {}): InteropCall =>
  ({ id, method: `${SERVING}BatchGet`, request_type: 'malt.v1.BatchGetRequest', response_type: 'malt.v1.BatchGetResponse', request: { entity_ids: ids, datasets }, ...extra });
export const segments = (id: string, entity: string, dataset: string): InteropCall =>
  ({ id, method: `${SERVING}GetSegments`, request_type: 'malt.v1.GetSegmentsRequest', response_type: 'malt.v1.GetSegmentsResponse', request: { entity_id: entity, dataset } });
export const healthCheck = (id: string, service: string): InteropCall =>
  ({ id, method: '/grpc.health.v1.Health/Check', request_type: 'grpc.health.v1.HealthCheckRequest', response_type: 'grpc.health.v1.HealthCheckResponse', request: { service } });
export const reflection = (id: string, version: 'v1' | 'v1alpha'): InteropCall => ({
  id, method: `/grpc.reflection.${version}.ServerReflection/ServerReflectionInfo`, kind: 'bidi',
  request_type: `grpc.reflection.${version}.ServerReflectionRequest`, response_type: `grpc.reflection.${version}.ServerReflectionResponse`,
  requests: [{ list_services: '*' }],
});
export const bearer = (token: string): [string, string][] => [['authorization', `Bearer ${token}`]];

type HttpFeature = { value: unknown; status: string; updated?: boolean };
type HttpDataset = { dataset: string; version: string; found: boolean; degraded?: string; features: Record<string, HttpFeature> };
export type HttpEntity = { entity_id: string; datasets: HttpDataset[] };
/** The Value oneof member of each fixtures column (its type + "_value"). */
const COLUMN_KIND: Record<string, string> = Object.fromEntries(Object.entries(PLAYER_COLUMNS).map(([c, t]) => [c, `${t}_value`]));

/** An RFC 3339 time as google.protobuf.Timestamp's JSON form writes it: 0, 3, 6 or 9 fraction digits. */
function protoTimestamp(text: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`not an RFC 3339 UTC time: ${text}`);
  const nanos = (m[2] ?? '').padEnd(9, '0');
  const digits = /^0+$/.test(nanos) ? 0 : nanos.endsWith('000000') ? 3 : nanos.endsWith('000') ? 6 : 9;
  return `${m[1]}${digits ? `.${nanos.slice(0, digits)}` : ''}Z`;
}

function protoValue(column: string, v: unknown): Record<string, unknown> {
  const kind = COLUMN_KIND[column];
  if (!kind) throw new Error(`no type for column ${column}`);
  if (kind === 'timestamp_value') return { [kind]: protoTimestamp(v as string) };
  if (kind === 'string_list_value') return { [kind]: (v as string[]).length ? { values: v } : {} };
  return { [kind]: v };
}

function protoDataset(d: HttpDataset): Record<string, unknown> {
  const features = Object.fromEntries(Object.entries(d.features).map(([name, f]) => [name, {
    ...(f.value === null ? {} : { value: protoValue(name, f.value) }),
    status: f.status,
    ...(f.updated === undefined ? {} : { updated: f.updated }),
  }]));
  return { dataset: d.dataset, version: d.version, ...(d.found ? { found: true } : {}), ...(d.degraded && d.degraded !== 'NOT_DEGRADED' ? { degraded: d.degraded } : {}), features };
}

export const protoEntity = (e: HttpEntity): Record<string, unknown> => ({ entity_id: e.entity_id, datasets: e.datasets.map(protoDataset) });
