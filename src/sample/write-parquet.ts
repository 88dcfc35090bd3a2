/**
 * A small typed wrapper over hyparquet-writer used by `malt sample` and the tests to write lake
 * tables: each column declares its malt type, and list columns get a proper 3-level LIST schema.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import type { SchemaElement } from 'hyparquet';

export type SampleColumnType = 'string' | 'int64' | 'int32' | 'double' | 'bool' | 'timestamp_ms' | 'string_list';

export interface SampleColumn {
  readonly name: string;
  readonly type: SampleColumnType;
  readonly data: readonly unknown[];
  /** Default true; a REQUIRED column may not hold nulls. */
  readonly nullable?: boolean;
}

function schemaFor(c: SampleColumn): SchemaElement[] {
  const repetition_type = c.nullable === false ? 'REQUIRED' : 'OPTIONAL';
  switch (c.type) {
    case 'string': return [{ name: c.name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type }];
    case 'int64': return [{ name: c.name, type: 'INT64', repetition_type }];
    case 'int32': return [{ name: c.name, type: 'INT32', repetition_type }];
    case 'double': return [{ name: c.name, type: 'DOUBLE', repetition_type }];
    case 'bool': return [{ name: c.name, type: 'BOOLEAN', repetition_type }];
    case 'timestamp_ms': return [{ name: c.name, type: 'INT64', converted_type: 'TIMESTAMP_MILLIS', repetition_type }];
    case 'string_list': return [
      { name: c.name, repetition_type, num_children: 1, converted_type: 'LIST' },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ];
  }
}

export function writeParquet(filename: string, columns: readonly SampleColumn[], opts: { rowGroupSize?: number; codec?: 'SNAPPY' | 'UNCOMPRESSED' } = {}): void {
  mkdirSync(path.dirname(filename), { recursive: true });
  const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }];
  for (const c of columns) schema.push(...schemaFor(c));
  parquetWriteFile({
    filename,
    schema,
    codec: opts.codec ?? 'SNAPPY',
    rowGroupSize: opts.rowGroupSize ?? 10_000,
    columnData: columns.map((c) => ({
      name: c.name,
      data: c.type === 'int64' ? c.data.map((v) => (v === null || v === undefined ? null : BigInt(v as number | string | bigint))) : [...c.data],
    })) as never,
  });
}
