/**
 * Timestamp units and narrow/unsigned integers come back exactly on both transports:
 * nanosecond timestamps are truncated to the microsecond below (also before 1970), millisecond
 * ones are exact, and UINT8/16/32 (required and nullable) are served as their unsigned values,
 * never reinterpreted as negative int32s.
 */
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { startServing } from '../src/app.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { load, makeConfig, tmpDir } from './support/fixtures.js';

const ids = ['a', 'b', 'c'];
let app: ServingApp;
let client: ServingClient;
let report: Record<string, unknown>;

beforeAll(async () => {
  const file = path.join(tmpDir(), 'units.parquet');
  parquetWriteFile({ filename: file, columnData: [
    { name: 'player_id', data: ids },
    // 1.5 µs after the epoch, 1 ns before it, and the last representable nanosecond of 2262.
    { name: 'ts_ns', data: [1_500n, -1n, 9_223_372_036_854_775_807n] },
    { name: 'ts_ms', data: [1_709_296_496_789n, -1n, null] },
    { name: 'u32', data: [4_294_967_295, 2_147_483_648, 0] },
    { name: 'u32n', data: [4_294_967_295, null, 1] },
    { name: 'u16', data: [65_535, 32_768, null] },
    { name: 'u8', data: [255, 128, 0] },
    { name: 'i8', data: [-128, 127, null] },
  ] as never, schema: [
    { name: 'root', num_children: 8 },
    { name: 'player_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'ts_ns', type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' }, repetition_type: 'REQUIRED' },
    { name: 'ts_ms', type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type: 'OPTIONAL' },
    { name: 'u32', type: 'INT32', converted_type: 'UINT_32', repetition_type: 'REQUIRED' },
    { name: 'u32n', type: 'INT32', converted_type: 'UINT_32', repetition_type: 'OPTIONAL' },
    { name: 'u16', type: 'INT32', converted_type: 'UINT_16', repetition_type: 'OPTIONAL' },
    { name: 'u8', type: 'INT32', converted_type: 'UINT_8', repetition_type: 'REQUIRED' },
    { name: 'i8', type: 'INT32', converted_type: 'INT_8', repetition_type: 'OPTIONAL' },
  ] as never });
  const cfg = makeConfig({ datasets: [{ name: 'units', source: { format: 'parquet', uri: file }, key: 'player_id',
    columns: { ts_ns: 'timestamp', ts_ms: 'timestamp', u32: 'int64', u32n: 'int64', u16: 'int64', u8: 'int64', i8: 'int64' } }] });
  report = await load(cfg, 'units') as unknown as Record<string, unknown>;
  app = await startServing(cfg);
  client = servingClient(`127.0.0.1:${app.grpcPort}`);
});
afterAll(async () => {
  client?.close();
  await app?.close();
});

type Feature = { value: unknown; status: string };
async function http(id: string): Promise<Record<string, Feature>> {
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${id}?datasets=units` });
  return res.json().datasets[0].features;
}
async function grpc(id: string): Promise<Record<string, { value: Record<string, unknown> | null; status: string }>> {
  const r = await call<{ datasets: { features: Record<string, { value: Record<string, unknown> | null; status: string }> }[] }>(client, 'Get', { entity_id: id, datasets: ['units'] });
  return r.datasets[0]!.features;
}

describe('timestamp units and unsigned integers', () => {
  it('loads every row without a reject', () => {
    expect(report).toMatchObject({ rows: 3, rejected: 0 });
  });

  it('nanosecond timestamps are truncated to the microsecond below, on both transports', async () => {
    const cases: [string, string, string, number][] = [
      ['a', '1970-01-01T00:00:00.000001Z', '0', 1000],
      ['b', '1969-12-31T23:59:59.999999Z', '-1', 999_999_000],
      ['c', '2262-04-11T23:47:16.854775Z', '9223372036', 854_775_000],
    ];
    for (const [id, text, seconds, nanos] of cases) {
      expect((await http(id))['ts_ns']).toEqual({ value: text, status: 'PRESENT' });
      expect((await grpc(id))['ts_ns']!.value!['timestamp_value']).toEqual({ seconds, nanos });
    }
  });

  it('millisecond timestamps are exact, before and after 1970', async () => {
    expect((await http('a'))['ts_ms']).toEqual({ value: '2024-03-01T12:34:56.789Z', status: 'PRESENT' });
    expect((await grpc('a'))['ts_ms']!.value!['timestamp_value']).toEqual({ seconds: '1709296496', nanos: 789_000_000 });
    expect((await http('b'))['ts_ms']).toEqual({ value: '1969-12-31T23:59:59.999Z', status: 'PRESENT' });
    expect((await grpc('b'))['ts_ms']!.value!['timestamp_value']).toEqual({ seconds: '-1', nanos: 999_000_000 });
    expect((await http('c'))['ts_ms']).toEqual({ value: null, status: 'NULL_VALUE' });
  });

  it('UINT8/16/32 are served unsigned, required or nullable, the same on both transports', async () => {
    const want: Record<string, Record<string, string | null>> = {
      a: { u32: '4294967295', u32n: '4294967295', u16: '65535', u8: '255', i8: '-128' },
      b: { u32: '2147483648', u32n: null, u16: '32768', u8: '128', i8: '127' },
      c: { u32: '0', u32n: '1', u16: null, u8: '0', i8: null },
    };
    for (const [id, cols] of Object.entries(want)) {
      const h = await http(id);
      const g = await grpc(id);
      for (const [col, v] of Object.entries(cols)) {
        if (v === null) {
          expect(h[col], `${id}.${col}`).toEqual({ value: null, status: 'NULL_VALUE' });
          expect(g[col]!.status, `${id}.${col}`).toBe('NULL_VALUE');
        } else {
          expect(h[col], `${id}.${col}`).toEqual({ value: v, status: 'PRESENT' });
          expect(g[col]!.value!['int64_value'], `${id}.${col}`).toBe(v);
        }
      }
    }
  });
});
