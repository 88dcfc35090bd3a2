import { describe, expect, it } from 'vitest';
import { DatasetResult, type Feature } from '../src/serving/dataset-result.js';
import { loadServingPackage } from '../src/serving/grpc-server.js';
import { encodeBatchGetResponse, encodeEntityResult } from '../src/serving/proto-encoding.js';
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
  { name: 'last_login', type: 'timestamp', value: 1_759_322_096_789_123n, status: 'PRESENT' },
  { name: 'before_epoch', type: 'timestamp', value: -1_500_000n, status: 'PRESENT' },
  { name: 'max_ts', type: 'timestamp', value: 253_402_300_799_999_999n, status: 'PRESENT' },
  { name: 'max_ms', type: 'timestamp', value: 253_402_300_799_999_000n, status: 'PRESENT' },
  { name: 'min_ts', type: 'timestamp', value: -62_135_596_800_000_000n, status: 'PRESENT' },
  { name: 'year1_us', type: 'timestamp', value: -62_135_596_799_999_999n, status: 'PRESENT' },
  { name: 'max_i64', type: 'int64', value: '9223372036854775807', status: 'PRESENT' },
  { name: 'tags', type: 'string_list', value: ['pvp', 'guild_leader'], status: 'PRESENT' },
  { name: 'no_tags', type: 'string_list', value: [], status: 'PRESENT' },
  { name: 'gone', type: 'string', value: null, status: 'NULL_VALUE' },
  { name: 'missing', type: 'double', value: null, status: 'NOT_FOUND' },
];

describe('pre-encoded protobuf responses', () => {
  it('decode to exactly what the generic proto-loader encoding of the same result decodes to', () => {
    const inputs = [{ dataset: 'pf', version: '17', found: true, features }, { dataset: 'other', version: '3', found: false, features: [] }];
    const results = inputs.map((i) => DatasetResult.build(i.dataset, i.version, i.found, i.features, null));
    const viaLoader = get.responseDeserialize(get.responseSerialize({ entity_id: 'p_1', datasets: inputs.map(referenceProto) }));
    const viaBytes = get.responseDeserialize(encodeEntityResult('p_1', results.map((r) => r.proto)));
    expect(viaBytes).toEqual(viaLoader);
    const decoded = viaBytes as { datasets: { features: Record<string, { value: Record<string, unknown> | null; status: string }> }[] };
    expect(decoded.datasets[0]!.features['level']!.value!['int64_value']).toBe('9007199254740993');
    expect(decoded.datasets[0]!.features['min']!.value!['int64_value']).toBe('-9223372036854775808');
    expect(decoded.datasets[0]!.features['last_login']!.value!['timestamp_value']).toEqual({ seconds: '1759322096', nanos: 789_123_000 });
    expect(decoded.datasets[0]!.features['before_epoch']!.value!['timestamp_value']).toEqual({ seconds: '-2', nanos: 500_000_000 });
    expect(decoded.datasets[0]!.features['max_ts']!.value!['timestamp_value']).toEqual({ seconds: '253402300799', nanos: 999_999_000 });
    expect(decoded.datasets[0]!.features['max_ms']!.value!['timestamp_value']).toEqual({ seconds: '253402300799', nanos: 999_000_000 });
    expect(decoded.datasets[0]!.features['min_ts']!.value!['timestamp_value']).toEqual({ seconds: '-62135596800', nanos: 0 });
    expect(decoded.datasets[0]!.features['year1_us']!.value!['timestamp_value']).toEqual({ seconds: '-62135596800', nanos: 1000 });
    expect(decoded.datasets[0]!.features['max_i64']!.value!['int64_value']).toBe('9223372036854775807');
    const json = results[0]!.toObject().features;
    expect(json['max_ts']!.value).toBe('9999-12-31T23:59:59.999999Z');
    expect(json['max_ms']!.value).toBe('9999-12-31T23:59:59.999Z');
    expect(json['min_ts']!.value).toBe('0001-01-01T00:00:00.000Z');
    expect(json['year1_us']!.value).toBe('0001-01-01T00:00:00.000001Z');
    expect(decoded.datasets[0]!.features['gone']!.status).toBe('NULL_VALUE');
  });

  it('encodes a batch response as repeated entity results in order', () => {
    const r = DatasetResult.build('pf', '1', true, features.slice(0, 3), null);
    const ids = ['a', 'b', 'Ünïcode-ß', 'x'.repeat(300)];
    const decoded = batch.responseDeserialize(encodeBatchGetResponse(ids.map((entityId) => ({ entityId, datasets: [r.proto, r.proto] })))) as { results: { entity_id: string; datasets: unknown[] }[] };
    expect(decoded.results.map((x) => x.entity_id)).toEqual(ids);
    expect(decoded.results.every((x) => x.datasets.length === 2)).toBe(true);
    const viaLoader = batch.responseDeserialize(batch.responseSerialize({ results: ids.map((entity_id) => ({ entity_id, datasets: [referenceProto({ dataset: 'pf', version: '1', found: true, features: features.slice(0, 3) })] })) }));
    expect(batch.responseDeserialize(encodeBatchGetResponse(ids.map((entityId) => ({ entityId, datasets: [r.proto] }))))).toEqual(viaLoader);
    expect(batch.responseDeserialize(encodeBatchGetResponse([]))).toEqual({ results: [] });
  });

  it('renders the same JSON as the documented HTTP shape', () => {
    const r = DatasetResult.build('pf', '17', true, features, null);
    const o = r.toObject();
    expect(o).toMatchObject({ dataset: 'pf', version: '17', found: true });
    expect(o.features['level']).toEqual({ value: '9007199254740993', status: 'PRESENT' });
    expect(o.features['last_login']).toEqual({ value: '2025-10-01T12:34:56.789123Z', status: 'PRESENT' });
    expect(o.features['neg']).toEqual({ value: -0.001, status: 'PRESENT' });
    expect(o.features['gone']).toEqual({ value: null, status: 'NULL_VALUE' });
    expect(o.features['tags']).toEqual({ value: ['pvp', 'guild_leader'], status: 'PRESENT' });
  });
});
