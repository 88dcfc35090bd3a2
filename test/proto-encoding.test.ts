import { describe, expect, it } from 'vitest';
import { DatasetResult, type Feature } from '../src/serving/dataset-result.js';
import { loadServingPackage } from '../src/serving/grpc-server.js';
import { encodeEntityResult, encodeRepeated } from '../src/serving/proto-encoding.js';
import { referenceProto } from './support/proto-reference.js';

interface MethodDef { responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
const service = loadServingPackage()['malt.v1.Serving'] as unknown as Record<string, MethodDef>;
const get = service['Get']!;
const batch = service['BatchGet']!;

const features: Feature[] = [
  { name: 'ltv', type: 'double', value: 12.5, status: 'PRESENT' },
  { name: 'neg', type: 'double', value: -0.001, status: 'PRESENT' },
  { name: 'level', type: 'int64', value: '9007199254740993', status: 'PRESENT' },
  { name: 'debt', type: 'int64', value: '-42', status: 'PRESENT' },
  { name: 'min', type: 'int64', value: '-9223372036854775808', status: 'PRESENT' },
  { name: 'zero', type: 'int64', value: '0', status: 'DEFAULTED' },
  { name: 'country', type: 'string', value: 'Ünïcode ✓', status: 'PRESENT' },
  { name: 'empty', type: 'string', value: '', status: 'PRESENT' },
  { name: 'is_payer', type: 'bool', value: false, status: 'PRESENT' },
  { name: 'vip', type: 'bool', value: true, status: 'PRESENT' },
  { name: 'last_login', type: 'timestamp', value: 1_759_322_096_789_123, status: 'PRESENT' },
  { name: 'before_epoch', type: 'timestamp', value: -1_500_000, status: 'PRESENT' },
  { name: 'tags', type: 'string_list', value: ['pvp', 'guild_leader'], status: 'PRESENT' },
  { name: 'no_tags', type: 'string_list', value: [], status: 'PRESENT' },
  { name: 'gone', type: 'string', value: null, status: 'NULL_VALUE' },
  { name: 'missing', type: 'double', value: null, status: 'NOT_FOUND' },
];

describe('pre-encoded protobuf responses', () => {
  it('decode to exactly what the generic proto-loader encoding of the same result decodes to', () => {
    const results = [new DatasetResult('pf', '17', true, features, null), new DatasetResult('other', '3', false, [], null)];
    const viaLoader = get.responseDeserialize(get.responseSerialize({ entity_id: 'p_1', datasets: results.map(referenceProto) }));
    const viaBytes = get.responseDeserialize(encodeEntityResult('p_1', results.map((r) => r.toProtoBytes())));
    expect(viaBytes).toEqual(viaLoader);
    const decoded = viaBytes as { datasets: { features: Record<string, { value: Record<string, unknown> | null; status: string }> }[] };
    expect(decoded.datasets[0]!.features['level']!.value!['int64_value']).toBe('9007199254740993');
    expect(decoded.datasets[0]!.features['min']!.value!['int64_value']).toBe('-9223372036854775808');
    expect(decoded.datasets[0]!.features['last_login']!.value!['timestamp_value']).toEqual({ seconds: '1759322096', nanos: 789_123_000 });
    expect(decoded.datasets[0]!.features['before_epoch']!.value!['timestamp_value']).toEqual({ seconds: '-2', nanos: 500_000_000 });
    expect(decoded.datasets[0]!.features['gone']!.status).toBe('NULL_VALUE');
  });

  it('encodes a batch response as repeated entity results in order', () => {
    const r = new DatasetResult('pf', '1', true, features.slice(0, 3), null);
    const entities = ['a', 'b', 'c'].map((id) => encodeEntityResult(id, [r.toProtoBytes()]));
    const decoded = batch.responseDeserialize(encodeRepeated(entities)) as { results: { entity_id: string }[] };
    expect(decoded.results.map((x) => x.entity_id)).toEqual(['a', 'b', 'c']);
    expect(batch.responseDeserialize(encodeRepeated([]))).toEqual({ results: [] });
  });
});
