/**
 * Values come back exactly or are refused with a counted reason, identically over HTTP, gRPC
 * (grpc-js) and a non-Node gRPC client (python3-grpcio), from one Parquet file: far timestamps,
 * year 1, micros, UINT64 beyond int64, and a list with a null element.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { startServing } from '../src/app.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { load, makeConfig, tmpDir } from './support/fixtures.js';

const ids = ['max', 'year1', 'ms', 'far', 'u64max', 'u64ok'];
let app: ServingApp;
let client: ServingClient;
let report: Record<string, unknown>;

beforeAll(async () => {
  const file = path.join(tmpDir(), 'exact.parquet');
  parquetWriteFile({ filename: file, columnData: [
    { name: 'player_id', data: ids },
    { name: 'ts', data: [253_402_300_799_999_999n, -62_135_596_799_999_999n, 253_402_300_799_999_000n, 253_402_300_800_000_000n, null, null] },
    { name: 'u64', data: [null, null, null, null, 18_446_744_073_709_551_615n, 9_223_372_036_854_775_807n] },
    { name: 'tags', data: [['a', null, 'b'], [], null, ['x'], null, null] },
  ] as never, schema: [
    { name: 'root', num_children: 4 },
    { name: 'player_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'ts', type: 'INT64', converted_type: 'TIMESTAMP_MICROS', repetition_type: 'OPTIONAL' },
    { name: 'u64', type: 'INT64', converted_type: 'UINT_64', repetition_type: 'OPTIONAL' },
    { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  ] as never });
  const cfg = makeConfig({ datasets: [{ name: 'ex', source: { format: 'parquet', uri: file }, key: 'player_id',
    columns: { ts: 'timestamp', u64: 'int64', tags: 'string_list' } }] });
  report = await load(cfg, 'ex') as unknown as Record<string, unknown>;
  app = await startServing(cfg);
  client = servingClient(`127.0.0.1:${app.grpcPort}`);
});
afterAll(async () => {
  client?.close();
  await app?.close();
});

async function http(id: string): Promise<Record<string, { value: unknown; status: string }>> {
  const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${id}?datasets=ex` });
  return res.json().datasets[0].features;
}
async function grpcJs(id: string): Promise<Record<string, { value: Record<string, unknown> | null; status: string }>> {
  const r = await call<{ datasets: { features: Record<string, { value: Record<string, unknown> | null; status: string }> }[] }>(client, 'Get', { entity_id: id, datasets: ['ex'] });
  return r.datasets[0]!.features;
}
async function python(id: string): Promise<Record<string, { status: number; int64?: string; seconds?: string; nanos?: number; list?: string[] }>> {
  // Asynchronous: the server runs in this process, a synchronous spawn would block it.
  // The apt packages (python3-grpcio) install into the system python, which a pyenv shim may hide.
  const py = process.env['MALT_PYTHON'] ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const { stdout: out } = await promisify(execFile)(py, [path.join(import.meta.dirname, 'support/python-grpc-client.py'), `127.0.0.1:${app.grpcPort}`, id, 'ex'], { encoding: 'utf8' });
  return JSON.parse(out);
}

describe('exact values across HTTP, grpc-js and a python grpcio client', () => {
  it('loads every row; refused values are counted per column and reported', async () => {
    expect(report).toMatchObject({ rows: 6, rejected: 0 });
    const versions = await app.http.inject({ method: 'GET', url: '/v1/datasets/ex/versions' });
    expect(versions.json().versions[0].value_rejects).toEqual({ ts: { timestamp_out_of_range: 1 }, u64: { int64_out_of_range: 1 }, tags: { null_list_element: 1 } });
  });

  it('timestamps at the RFC 3339 edges are exact on every transport', async () => {
    const cases: [string, string, string, number][] = [
      ['max', '9999-12-31T23:59:59.999999Z', '253402300799', 999_999_000],
      ['year1', '0001-01-01T00:00:00.000001Z', '-62135596800', 1000],
      ['ms', '9999-12-31T23:59:59.999Z', '253402300799', 999_000_000],
    ];
    for (const [id, text, seconds, nanos] of cases) {
      expect((await http(id))['ts']).toEqual({ value: text, status: 'PRESENT' });
      expect((await grpcJs(id))['ts']!.value!['timestamp_value']).toEqual({ seconds, nanos });
      expect((await python(id))['ts']).toEqual({ status: 1, seconds, nanos });
    }
    expect((await http('far'))['ts']).toEqual({ value: null, status: 'NULL_VALUE' });
    expect((await grpcJs('far'))['ts']!.status).toBe('NULL_VALUE');
    expect((await python('far'))['ts']).toEqual({ status: 2 });
  });

  it('UINT64 beyond int64 is refused per value; within int64 it is served the same everywhere', async () => {
    expect((await http('u64max'))['u64']).toEqual({ value: null, status: 'NULL_VALUE' });
    expect((await grpcJs('u64max'))['u64']!.status).toBe('NULL_VALUE');
    expect((await python('u64max'))['u64']).toEqual({ status: 2 });
    expect((await http('u64ok'))['u64']).toEqual({ value: '9223372036854775807', status: 'PRESENT' });
    expect((await grpcJs('u64ok'))['u64']!.value!['int64_value']).toBe('9223372036854775807');
    expect((await python('u64ok'))['u64']).toEqual({ status: 1, int64: '9223372036854775807' });
  });

  it('a null list element is dropped, the row and its other values are kept', async () => {
    expect((await http('max'))['tags']).toEqual({ value: ['a', 'b'], status: 'PRESENT' });
    expect((await python('max'))['tags']).toEqual({ status: 1, list: ['a', 'b'] });
  });
});
