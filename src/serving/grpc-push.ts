/**
 * gRPC Push: malt.v1.PushRequest → the one write path (updates/write-path.ts). Turns proto
 * Values into the JSON wire forms the write path validates (int64 as decimal strings,
 * timestamps as RFC 3339), so HTTP and gRPC pushes apply identically.
 */
import { MaltError } from '../errors.js';
import type { UpdateItem, UpdateWritePath } from '../updates/write-path.js';
import { formatTimestamp } from './dataset-result.js';

interface ProtoValue {
  kind?: string;
  int64_value?: string;
  double_value?: number;
  string_value?: string;
  bool_value?: boolean;
  timestamp_value?: { seconds?: string | number; nanos?: number };
  string_list_value?: { values?: string[] };
}

export interface PushReq {
  dataset: string;
  updates: { entity_id: string; op: string; values?: Record<string, ProtoValue>; segment: string; event_time: string; null_columns?: string[] }[];
}

function wireValue(v: ProtoValue): unknown {
  switch (v.kind) {
    case 'int64_value': return String(v.int64_value);
    case 'double_value': return Number.isFinite(v.double_value) ? v.double_value : String(v.double_value);
    case 'string_value': return v.string_value;
    case 'bool_value': return v.bool_value;
    case 'timestamp_value': {
      const micros = BigInt(v.timestamp_value?.seconds ?? 0) * 1_000_000n + BigInt(Math.trunc((v.timestamp_value?.nanos ?? 0) / 1000));
      return formatTimestamp(micros);
    }
    case 'string_list_value': return v.string_list_value?.values ?? [];
    default: return undefined; // an unset Value: refused by validation as "not a value"
  }
}

export function toUpdateItems(req: PushReq): UpdateItem[] {
  return (req.updates ?? []).map((u) => {
    const values: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(u.values ?? {})) values[name] = wireValue(v);
    for (const name of u.null_columns ?? []) values[name] = null;
    const item: { -readonly [K in keyof UpdateItem]: UpdateItem[K] } = { entity_id: u.entity_id, op: u.op as UpdateItem['op'] };
    if (Object.keys(values).length > 0) item.values = values;
    if (u.segment) item.segment = u.segment;
    if (u.event_time) item.event_time = u.event_time;
    return item;
  });
}

export function pushHandler(writePath: UpdateWritePath | undefined): (req: PushReq) => Promise<{ applied: number }> {
  return async (req) => {
    if (!writePath) throw new MaltError('UPDATES_DISABLED', 'this server takes no updates');
    if (!req.dataset) throw new MaltError('INVALID_ARGUMENT', 'dataset is required');
    return writePath.apply(req.dataset, toUpdateItems(req));
  };
}
