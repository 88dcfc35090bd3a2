/**
 * The straightforward object form of a DatasetResult for @grpc/proto-loader (keepCase, longs as
 * strings): the reference the hand-rolled encoder (src/serving/proto-encoding.ts) is checked against.
 */
import type { ColumnType, TypedValue } from '../../src/column-types.js';
import type { Feature } from '../../src/serving/dataset-result.js';

function protoValue(type: ColumnType, v: TypedValue): Record<string, unknown> {
  switch (type) {
    case 'double': return { double_value: v };
    case 'int64': return { int64_value: v };
    case 'string': return { string_value: v };
    case 'bool': return { bool_value: v };
    case 'timestamp': {
      // Exact reference (bigint µs), computed independently of proto-encoding.ts via modulo.
      const micros = v as bigint;
      const rem = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
      return { timestamp_value: { seconds: String((micros - rem) / 1_000_000n), nanos: Number(rem) * 1000 } };
    }
    case 'string_list': return { string_list_value: { values: v } };
  }
}

export function referenceProto(r: { dataset: string; version: string; found: boolean; features: readonly Feature[] }): Record<string, unknown> {
  const features: Record<string, unknown> = {};
  for (const f of r.features) features[f.name] = f.value === null ? { status: f.status } : { value: protoValue(f.type, f.value), status: f.status };
  return { dataset: r.dataset, version: r.version, found: r.found, features };
}
