/**
 * Conformance: every Delta table of ../shared/testdata/delta-spark (Spark-written golden and
 * kernel tables) and ../shared/testdata/delta (delta-rs test data) is loaded into a real Redis and
 * either serves exactly its expected rows (count, plus sample values read back over HTTP) or is
 * refused with the expected error code. Expected row counts: the READMEs (delta-spark); for
 * delta-rs tables, whose README gives none, the live files' Parquet num_rows minus deletion-vector
 * cardinality as listed below, with values checked against what the tables were written with.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import type { LoadReport } from '../src/loaders/load-dataset.js';
import { deletedRowsOf, projectedRows } from '../src/loaders/file-projection.js';
import { openParquetFile } from '../src/loaders/parquet-reader.js';
import { planLoad } from '../src/loaders/source-schema.js';
import { convertKey, convertValue } from '../src/loaders/value-converter.js';
import { resolveSource } from '../src/sources/resolve-source.js';
import { appsClosedAfterAll, load, makeConfig, serve } from './support/fixtures.js';

const SPARK = path.resolve(import.meta.dirname, '../../shared/testdata/delta-spark');
const DELTA_RS = path.resolve(import.meta.dirname, '../../shared/testdata/delta');

type Sample = readonly [entity: string, features: Record<string, unknown>];
interface Expect {
  readonly key: string;
  /** Declared columns; omitted = inferred from the Delta schema. */
  readonly columns?: Record<string, string>;
  /** Logical rows (after deletion vectors): report.rowsRead. */
  readonly rows?: number;
  /** Rows refused for their key (null keys). */
  readonly rejected?: number;
  /** Or: the load is refused with this code (and the message contains `message`). */
  readonly code?: string;
  readonly message?: string;
  readonly samples?: readonly Sample[];
  /** Why the table is not served (refusals of readable tables). */
  readonly why?: string;
  /** Checked by reading every row through the loader's projection instead of a full load. */
  readonly readOnly?: boolean;
}

const id = (n: number): Expect => ({ key: 'id', rows: n });

const SPARK_TABLES: Record<string, Expect> = {
  'basic-decimal-table': { key: 'part', rows: 4, samples: [
    ['234.00000', { col1: '1.00', col2: '2.00000', col3: '3.0000000000' }],
    ['-2342342.23423', { col1: '-999.99', col2: '-99999.99999', col3: '-9999999999.9999999999' }],
    ['0.00004', { col1: '0.00', col2: '0.00000', col3: '0.0000000000' }],
  ] },
  'basic-decimal-table-legacy': { key: 'part', rows: 4, samples: [
    ['2342222.23454', { col1: '111.11', col2: '22222.22222', col3: '3333333333.3333333333' }],
  ] },
  'basic-dv-no-checkpoint': id(8),
  'basic-dv-with-checkpoint': id(454),
  'basic-with-inserts-deletes-checkpoint': id(41),
  'basic-with-inserts-merge': { key: 'id', rows: 140 },
  'basic-with-inserts-overwrite-restore': id(200),
  'basic-with-inserts-updates': { key: 'id', rows: 100 },
  'basic-with-vacuum-protocol-check-feature': { key: 'id', rows: 100 },
  'commit-info-containing-arbitrary-operationParams-types': { key: 'id', rows: 2 },
  'corrupted-last-checkpoint-kernel': id(100),
  'data-reader-array-complex-objects': { key: 'i', rows: 10 },
  'data-reader-array-primitives': { key: 'as_array_int', code: 'SCHEMA_MISMATCH', message: 'array<integer>', why: 'every column is an array: none can be a key' },
  'data-reader-date-types-UTC': { key: 'date', code: 'SCHEMA_MISMATCH', message: 'date', why: 'only timestamp and date columns: none can be a key' },
  'data-reader-escaped-chars': { key: '_1', rows: 3, samples: [['foo1', { _2: 'bar+%21' }], ['foo3', { _2: 'bar+%23' }]] },
  'data-reader-map': { key: 'i', rows: 10 },
  'data-reader-nested-struct': { key: 'b', rows: 10 },
  'data-reader-partition-values': { key: 'value', rows: 3 },
  'data-reader-partition-values-column-mapping-name': { key: 'value', rows: 3 },
  'data-reader-primitives': { key: 'as_int', rows: 11, rejected: 1, samples: [
    ['3', { as_long: '3', as_byte: '3', as_short: '3', as_boolean: false, as_float: 3, as_double: 3, as_string: '3', as_big_decimal: '3' }],
    ['0', { as_long: '0', as_boolean: true, as_string: '0', as_big_decimal: '0' }],
  ] },
  'data-reader-timestamp_ntz': { key: 'id', rows: 9 },
  'data-reader-timestamp_ntz-id-mode': { key: 'id', rows: 9 },
  'data-reader-timestamp_ntz-name-mode': { key: 'id', rows: 9 },
  'decimal-various-scale-precision': { key: 'decimal_4_0', rows: 3, rejected: 1, samples: [
    ['4', { decimal_15_6: '3.302000', decimal_25_18: '234942.000000000000000000', decimal_38_36: '0.000000000000000003241836000000000000', decimal_7_6: null }],
    ['-13', { decimal_15_0: '-157', decimal_35_30: '-32805.309000000000000000000000000000', decimal_38_0: '-17' }],
  ] },
  'deltalog-invalid-protocol-version': { key: 'id', code: 'DELTA_UNSUPPORTED', message: 'minReaderVersion 99' },
  'deltalog-state-reconstruction-without-metadata': { key: 'id', code: 'DELTA_LOG_INVALID', message: 'metaData' },
  'deltalog-state-reconstruction-without-protocol': { key: 'id', code: 'DELTA_LOG_INVALID', message: 'protocol' },
  'dv-partitioned-with-checkpoint': { key: 'col1', rows: 35 },
  'dv-with-columnmapping': { key: 'col1', rows: 35 },
  'kernel-timestamp-INT96': { key: 'id', rows: 5, samples: [['0', { part: '2020-01-01T08:09:10.001Z', time: '2020-02-01T08:09:10.000Z' }], ['3', { part: '1969-01-01T00:00:00.000Z', time: '1969-01-01T00:00:00.000Z' }], ['4', { part: null, time: null }]] },
  // Written with JVM zone PST: data instants are exact; zone-less partition strings read as UTC (documented).
  'kernel-timestamp-PST': { key: 'id', rows: 5, samples: [['0', { part: '2020-01-01T08:09:10.001Z', time: '2020-02-01T16:09:10.000Z' }]] },
  'kernel-timestamp-TIMESTAMP_MICROS': { key: 'id', rows: 5, samples: [['0', { part: '2020-01-01T08:09:10.001Z', time: '2020-02-01T08:09:10.000Z' }], ['3', { part: '1969-01-01T00:00:00.000Z', time: '1969-01-01T00:00:00.000Z' }], ['4', { part: null, time: null }]] },
  'kernel-timestamp-TIMESTAMP_MILLIS': { key: 'id', rows: 5, samples: [['0', { part: '2020-01-01T08:09:10.001Z', time: '2020-02-01T08:09:10.000Z' }], ['3', { part: '1969-01-01T00:00:00.000Z', time: '1969-01-01T00:00:00.000Z' }], ['4', { part: null, time: null }]] },
  'kernel-timestamp-partition-col-ISO8601': { key: 'str', rows: 2, samples: [['2024-01-02 12:30:00', { ts: '2024-01-02T12:30:00.000Z' }]] },
  'log-replay-dv-key-cases': id(47),
  'log-replay-latest-metadata-protocol': { key: 'col1', rows: 40 },
  'multi-part-checkpoint': id(31),
  'no-delta-log-folder': { key: 'id', code: 'DELTA_LOG_INVALID', message: 'not a Delta table' },
  'only-checkpoint-files': id(25),
  'parquet-all-types': { key: 'IntegerType', rows: 200, rejected: 9 },
  'parquet-all-types-legacy-format': { key: 'IntegerType', rows: 200, rejected: 9 },
  // Read through the loader's reading path, not written to Redis: writing 1,000,000 rows takes
  // about a minute on the 2-core test machine, past this file's time budget (see the last test).
  'parquet-decimal-dictionaries-v2': { key: 'id', rows: 1_000_000, readOnly: true },
  'snapshot-data2-deleted': { key: 'col1', rows: 20 },
  'snapshot-repartitioned': { key: 'col1', rows: 20 },
  'snapshot-vacuumed': { key: 'col1', rows: 20 },
  'spark-variant-checkpoint': { key: 'id', code: 'DELTA_UNSUPPORTED', message: 'variantType-preview' },
  'table-with-columnmapping-mode-id': { key: 'IntegerType', rows: 6, rejected: 1 },
  'table-with-columnmapping-mode-name': { key: 'IntegerType', rows: 6, rejected: 1 },
  'time-travel-partition-changes-b': { key: 'id', rows: 10 },
  'time-travel-schema-changes-b': { key: 'id', rows: 20 },
  'type-widening': { key: 'int_long', rows: 2, samples: [
    ['2', { byte_long: '1', float_double: 3.4000000953674316, short_double: 6, decimal_decimal_greater_scale: '67.89000', byte_decimal: '1.0', long_decimal: '4.0' }],
    ['9223372036854775807', { byte_long: '9223372036854775807', int_double: 1.234567890123, decimal_decimal_same_scale: '12345678901234.56', long_decimal: '123456789012345678.9' }],
  ] },
  'type-widening-nested': { key: 'array', code: 'SCHEMA_MISMATCH', message: 'array<long>', why: 'only struct, map and array columns: none can be a key' },
  'v2-checkpoint-json': id(10),
  'v2-checkpoint-parquet': id(10),
  'versions-not-contiguous': { key: 'id', code: 'DELTA_LOG_INVALID', message: 'not contiguous' },
};

const LOG_ONLY = 'the delta-rs test data ships only this table\'s _delta_log, not its data files: refused, never served without them';
const RS_TABLES: Record<string, Expect> = {
  'checkpoint-v2-table': { key: 'id', rows: 44 },
  checkpoints: { key: 'value', code: 'SOURCE_UNREADABLE', why: LOG_ONLY },
  checkpoints_vacuumed: { key: 'value', code: 'SOURCE_UNREADABLE', why: LOG_ONLY },
  'delta-0.8.0': { key: 'value', rows: 4 },
  'delta-0.8.0-null-partition': { key: 'v', rows: 2, samples: [['1', { k: 'A' }], ['2', { k: null }]] },
  'delta-0.8.0-partitioned': { key: 'value', rows: 7, samples: [['2', { year: '2020', month: '2', day: '3' }]] },
  'delta-0.8.0-special-partition': { key: 'y', rows: 2, samples: [['1', { x: 'A/A' }], ['2', { x: 'B B' }]] },
  'delta-2.2.0-partitioned-types': { key: 'c3', rows: 3, samples: [['5', { c1: '4', c2: 'c' }], ['4', { c1: '6', c2: 'a' }]] },
  latest_not_checkpointed: { key: 'int', code: 'SOURCE_UNREADABLE', why: LOG_ONLY },
  simple_table: id(3),
  simple_table_with_checkpoint: { key: 'version', rows: 11 },
  'table-with-dv-small': { key: 'value', rows: 8 },
  'table-without-dv-small': { key: 'value', rows: 10 },
  table_failed_last_checkpoint_update: { key: 'id', rows: 20, samples: [['2', { price: '1', sold: '1', deleted: false }]] },
  table_with_column_mapping: { key: 'Super Name', rows: 5, samples: [['Stephanie Mcgrath', { 'Company Very Short': 'BMS' }]] },
  table_with_deletion_logs: { key: 'id', rows: 98, samples: [['11', { name: 'Jeffery Jackson', nbr: '1112', company: 'Wa' }]] },
  table_with_edge_timestamps: { key: 'SOME_VALUE', rows: 2, samples: [['1', { BIG_DATE: '9999-12-31T00:00:00.000Z', NORMAL_DATE: '2022-01-01T00:00:00.000Z' }]] },
  with_checkpoint_no_last_checkpoint: { key: 'int', code: 'SOURCE_UNREADABLE', why: LOG_ONLY },
};

function datasetName(dir: string, table: string): string {
  return `${dir === SPARK ? 's' : 'r'}_${table.toLowerCase().replace(/[^a-z0-9]+/g, '_')}`.slice(0, 63);
}

const apps = appsClosedAfterAll();

interface Case { readonly dir: string; readonly table: string; readonly name: string; readonly expect: Expect }

const cases: Case[] = [[SPARK, SPARK_TABLES], [DELTA_RS, RS_TABLES]].flatMap(([dir, tables]) =>
  Object.entries(tables as Record<string, Expect>).filter(([, e]) => !e.readOnly).map(([table, expect]) => ({ dir: dir as string, table, name: datasetName(dir as string, table), expect })));

function datasetDoc(c: Case): Record<string, unknown> {
  return {
    name: c.name, source: { format: 'delta', uri: path.join(c.dir, c.table) }, key: c.expect.key,
    ...(c.expect.columns ? { columns: c.expect.columns } : {}),
    checks: { min_rows: 0, max_rejected_fraction: 1 },
  };
}

describe('Delta conformance: every test table is served exactly or refused', () => {
  it('the expectation table names every table folder (none left out)', () => {
    for (const [dir, tables] of [[SPARK, SPARK_TABLES], [DELTA_RS, RS_TABLES]] as const) {
      const folders = readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isDirectory()).sort();
      expect(Object.keys(tables).sort()).toEqual(folders);
    }
  });

  it('loads each table (in parallel) and serves its expected rows and values, or refuses it', async () => {
    const cfg = makeConfig({ datasets: cases.map(datasetDoc) });
    const outcomes = new Map<string, LoadReport | { code: string; message: string }>();
    const queue = [...cases];
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        outcomes.set(c.name, await load(cfg, c.name).catch((e: { code: string; message: string }) => ({ code: e.code, message: e.message })));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const app: ServingApp = await serve(cfg);
    apps.push(app);
    const problems: string[] = [];
    for (const c of cases) {
      const got = outcomes.get(c.name)!;
      const where = `${path.basename(c.dir)}/${c.table}`;
      if (c.expect.code !== undefined) {
        if (!('code' in got) || got.code !== c.expect.code || (c.expect.message && !got.message.includes(c.expect.message))) {
          problems.push(`${where}: expected refusal ${c.expect.code} (${c.expect.message ?? ''}), got ${JSON.stringify(got).slice(0, 300)}`);
        }
        continue;
      }
      if ('code' in got) {
        problems.push(`${where}: refused ${got.code}: ${got.message}`);
        continue;
      }
      if (got.rowsRead !== c.expect.rows || got.rejected !== (c.expect.rejected ?? 0)) {
        problems.push(`${where}: rowsRead ${got.rowsRead} rejected ${got.rejected}, expected ${c.expect.rows} / ${c.expect.rejected ?? 0}`);
      }
      for (const [entity, features] of c.expect.samples ?? []) {
        const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${encodeURIComponent(entity)}?datasets=${c.name}` });
        const ds = res.json().datasets?.[0];
        const served: Record<string, unknown> = {};
        for (const col of Object.keys(features)) served[col] = ds?.features?.[col]?.value;
        if (!ds?.found || JSON.stringify(served) !== JSON.stringify(features)) {
          problems.push(`${where} entity ${entity}: served ${JSON.stringify(served)} (found ${ds?.found}), expected ${JSON.stringify(features)}`);
        }
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('parquet-decimal-dictionaries-v2 (1,000,000 rows, dictionary-encoded decimals, DataPage v2): every row read exactly', async () => {
    const cfg = makeConfig({ datasets: [{ name: 'big', source: { format: 'delta', uri: path.join(SPARK, 'parquet-decimal-dictionaries-v2') }, key: 'id' }] });
    const dataset = cfg.datasets[0]!;
    const snapshot = await resolveSource(cfg, dataset);
    const opened = await Promise.all(snapshot.files.map((f) => openParquetFile(snapshot.store, f.location, f.size)));
    const plan = planLoad(dataset, snapshot, opened);
    expect(plan.columns).toEqual([{ name: 'col1', type: 'string' }, { name: 'col2', type: 'string' }, { name: 'col3', type: 'string' }]);
    let rows = 0;
    let bad = 0;
    const seen: string[] = [];
    for (const p of plan.files) {
      for await (const group of projectedRows(p, await deletedRowsOf(snapshot, p.dataFile))) {
        for (const r of group) {
          rows++;
          const key = convertKey(r['id']);
          const values = plan.columns.map((c) => convertValue(c.type, r[c.name]));
          if ('reason' in key || values.some((v) => typeof v !== 'string' || !/^-?\d+$/.test(v))) bad++;
          if (rows % 99_991 === 1) seen.push(`${'id' in key ? key.id : '?'}:${values.join(',')}`);
        }
      }
    }
    expect(rows).toBe(1_000_000);
    expect(bad).toBe(0);
    expect(seen.slice(0, 3)).toEqual(['0:0,0,0', '99991:1,1,1', '199982:2,2,0']);
  }, 60_000);
});
