/**
 * The Delta log reader against every table of ../shared/testdata/delta-spark and
 * ../shared/testdata/delta: version, live files, deletion vectors, column mapping, the checkpoint
 * used, and logical rows (Parquet footers minus DV cardinality = the README's expected rows).
 * Expectations come from the READMEs and from replaying the JSON commits by hand (add/remove
 * keyed by path + DV id), not from the reader's own output. Then refusals, time travel by version
 * and as-of, `_last_checkpoint` problems, multi-part and v2 checkpoints, and partition values.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetMetadataAsync } from 'hyparquet';
import { afterAll, describe, expect, it } from 'vitest';
import { MaltError } from '../src/errors.js';
import { type DeltaSnapshot, latestDeltaVersion, parsePartitionValue, resolveDeltaSnapshot } from '../src/sources/delta/delta-table.js';
import { LocalObjectStore } from '../src/sources/local-store.js';

const TESTDATA = path.resolve(import.meta.dirname, '../../shared/testdata');
const store = new LocalObjectStore();
const tmpRoot = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-delta-log-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

const table = (name: string): string => path.join(TESTDATA, name);

interface Expected {
  /** Latest version. */
  v: number;
  /** Live data files. */
  files: number;
  /** Live files with a deletion vector. */
  dvs: number;
  cm: 'none' | 'name' | 'id';
  /** Version of the checkpoint the latest snapshot is rebuilt from; null = commits from 0. */
  cp: number | null;
  /** Logical rows (README "expected rows"; for delta-rs tables, add.stats numRecords); null = not checked. */
  rows: number | null;
  /** false: the test data has only the _delta_log (delta-rs log-only fixtures), so files are not opened. */
  data?: boolean;
}

const e = (v: number, files: number, dvs: number, cm: Expected['cm'], cp: number | null, rows: number | null): Expected => ({ v, files, dvs, cm, cp, rows });
const logOnly = (x: Expected): Expected => ({ ...x, rows: null, data: false });

const SPARK: Record<string, Expected> = {
  'basic-decimal-table': e(0, 4, 0, 'none', null, 4),
  'basic-decimal-table-legacy': e(0, 4, 0, 'none', null, 4),
  'basic-dv-no-checkpoint': e(1, 2, 1, 'none', null, 8),
  'basic-dv-with-checkpoint': e(46, 2, 2, 'none', 40, 454),
  'basic-with-inserts-deletes-checkpoint': e(13, 7, 0, 'none', 10, 41),
  'basic-with-inserts-merge': e(1, 1, 0, 'none', null, 140),
  'basic-with-inserts-overwrite-restore': e(3, 4, 0, 'none', 3, 200),
  'basic-with-inserts-updates': e(1, 2, 0, 'none', null, 100),
  'basic-with-vacuum-protocol-check-feature': e(1, 2, 0, 'none', null, 100),
  'commit-info-containing-arbitrary-operationParams-types': e(2, 2, 0, 'none', null, 2),
  'corrupted-last-checkpoint-kernel': e(11, 2, 0, 'none', 10, 100),
  'data-reader-array-complex-objects': e(0, 2, 0, 'none', null, 10),
  'data-reader-array-primitives': e(0, 2, 0, 'none', null, 10),
  'data-reader-date-types-UTC': e(0, 2, 0, 'none', null, 1),
  'data-reader-escaped-chars': e(2, 3, 0, 'none', null, 3),
  'data-reader-map': e(0, 2, 0, 'none', null, 10),
  'data-reader-nested-struct': e(0, 2, 0, 'none', null, 10),
  'data-reader-partition-values': e(0, 3, 0, 'none', null, 3),
  'data-reader-partition-values-column-mapping-name': e(0, 3, 0, 'name', null, 3),
  'data-reader-primitives': e(0, 2, 0, 'none', null, 11),
  'data-reader-timestamp_ntz': e(1, 4, 0, 'none', null, 9),
  'data-reader-timestamp_ntz-id-mode': e(1, 4, 0, 'id', null, 9),
  'data-reader-timestamp_ntz-name-mode': e(1, 4, 0, 'name', null, 9),
  'decimal-various-scale-precision': e(0, 1, 0, 'none', null, 3),
  'dv-partitioned-with-checkpoint': e(15, 15, 2, 'none', 10, 35),
  'dv-with-columnmapping': e(15, 15, 2, 'name', 10, 35),
  'kernel-timestamp-INT96': e(0, 5, 0, 'none', null, 5),
  'kernel-timestamp-PST': e(0, 5, 0, 'none', null, 5),
  'kernel-timestamp-TIMESTAMP_MICROS': e(0, 5, 0, 'none', null, 5),
  'kernel-timestamp-TIMESTAMP_MILLIS': e(0, 5, 0, 'none', null, 5),
  'kernel-timestamp-partition-col-ISO8601': e(0, 2, 0, 'none', null, 2),
  'log-replay-dv-key-cases': e(3, 1, 1, 'none', null, 47),
  'log-replay-latest-metadata-protocol': e(2, 4, 0, 'none', null, 40),
  'multi-part-checkpoint': e(1, 10, 0, 'none', 1, 31),
  'only-checkpoint-files': e(2, 7, 0, 'none', 2, 25),
  'parquet-all-types': e(0, 1, 0, 'none', null, 200),
  'parquet-all-types-legacy-format': e(0, 1, 0, 'none', null, 200),
  'parquet-decimal-dictionaries-v2': e(0, 1, 0, 'none', null, 1000000),
  'snapshot-data2-deleted': e(4, 3, 0, 'none', null, 20),
  'snapshot-repartitioned': e(5, 2, 0, 'none', null, 20),
  'snapshot-vacuumed': e(5, 2, 0, 'none', null, 20),
  'table-with-columnmapping-mode-id': e(0, 2, 0, 'id', null, 6),
  'table-with-columnmapping-mode-name': e(0, 2, 0, 'name', null, 6),
  'time-travel-partition-changes-b': e(1, 4, 0, 'none', null, 10),
  'time-travel-schema-changes-b': e(1, 4, 0, 'none', null, 20),
  'type-widening': e(2, 2, 0, 'none', null, 2),
  'type-widening-nested': e(2, 2, 0, 'none', null, 2),
  'v2-checkpoint-json': e(2, 4, 0, 'none', 2, 10),
  'v2-checkpoint-parquet': e(2, 4, 0, 'none', 2, 10),
};

const DELTA_RS: Record<string, Expected> = {
  'checkpoint-v2-table': e(9, 8, 0, 'none', 8, 44),
  checkpoints: logOnly(e(12, 12, 0, 'none', null, 12)),
  checkpoints_vacuumed: logOnly(e(12, 12, 0, 'none', 10, 12)),
  'delta-0.8.0': e(1, 2, 0, 'none', null, 4),
  'delta-0.8.0-null-partition': e(0, 2, 0, 'none', null, null),
  'delta-0.8.0-partitioned': e(0, 6, 0, 'none', null, null),
  'delta-0.8.0-special-partition': e(0, 2, 0, 'none', null, null),
  'delta-2.2.0-partitioned-types': e(0, 3, 0, 'none', null, 3),
  latest_not_checkpointed: logOnly(e(3, 1, 0, 'none', 2, 5)),
  simple_table: e(4, 5, 0, 'none', null, null),
  simple_table_with_checkpoint: e(10, 11, 0, 'none', 10, null),
  'table-with-dv-small': e(1, 1, 1, 'none', null, 8),
  'table-without-dv-small': e(0, 1, 0, 'none', null, 10),
  table_failed_last_checkpoint_update: e(3, 4, 0, 'none', 3, 20),
  table_with_column_mapping: e(0, 2, 0, 'name', null, 5),
  table_with_deletion_logs: e(20, 1, 1, 'none', 20, 98),
  table_with_edge_timestamps: e(0, 2, 0, 'none', null, 2),
  with_checkpoint_no_last_checkpoint: logOnly(e(3, 1, 0, 'none', 2, 5)),
};

const REFUSED: Record<string, { code: string; says: string }> = {
  'deltalog-invalid-protocol-version': { code: 'DELTA_UNSUPPORTED', says: 'minReaderVersion 99' },
  'deltalog-state-reconstruction-without-protocol': { code: 'DELTA_LOG_INVALID', says: 'no protocol action' },
  'deltalog-state-reconstruction-without-metadata': { code: 'DELTA_LOG_INVALID', says: 'no metaData action' },
  'versions-not-contiguous': { code: 'DELTA_LOG_INVALID', says: 'commit 1 is missing' },
  'no-delta-log-folder': { code: 'DELTA_LOG_INVALID', says: 'not a Delta table' },
  'spark-variant-checkpoint': { code: 'DELTA_UNSUPPORTED', says: 'variantType' },
};

async function refusal(p: Promise<unknown>): Promise<MaltError> {
  const err = await p.then(() => null, (x: unknown) => x);
  expect(err).toBeInstanceOf(MaltError);
  return err as MaltError;
}

/** Logical rows: Parquet footer row counts of the live files minus DV cardinalities. */
async function logicalRows(snap: DeltaSnapshot): Promise<number> {
  let rows = 0;
  for (const f of snap.files) {
    const meta = await parquetMetadataAsync(await store.open(f.location, f.size));
    rows += Number(meta.num_rows) - (f.deletionVector?.cardinality ?? 0);
  }
  return rows;
}

function check(snap: DeltaSnapshot, want: Expected): void {
  expect({ v: snap.version, files: snap.files.length, dvs: snap.files.filter((f) => f.deletionVector !== null).length, cm: snap.columnMappingMode, cp: snap.logSegment.checkpointVersion })
    .toEqual({ v: want.v, files: want.files, dvs: want.dvs, cm: want.cm, cp: want.cp });
}

function subdirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

/** A copy of a table's _delta_log (data files are not needed to resolve a snapshot) in a temp dir. */
function copyLog(name: string): string {
  const dir = mkdtempSync(path.join(tmpRoot, 't-'));
  cpSync(path.join(table(name), '_delta_log'), path.join(dir, '_delta_log'), { recursive: true });
  return dir;
}

describe('every test table', () => {
  it('the expectation tables cover every table directory', () => {
    expect(subdirs(table('delta-spark'))).toEqual(Object.keys({ ...SPARK, ...REFUSED }).sort());
    expect(subdirs(table('delta'))).toEqual(Object.keys(DELTA_RS).sort());
  });

  const cases = [
    ...Object.entries(SPARK).map(([n, x]) => [`delta-spark/${n}`, x] as const),
    ...Object.entries(DELTA_RS).map(([n, x]) => [`delta/${n}`, x] as const),
  ];
  it.each(cases)('%s', async (name, want) => {
    const snap = await resolveDeltaSnapshot(store, table(name));
    check(snap, want);
    expect(snap.sourceVersion).toBe(String(want.v));
    expect(snap.snapshotId).toBe(`delta:${snap.metadata.id}:${want.v}`);
    expect(await latestDeltaVersion(store, table(name))).toBe(want.v);
    // Every live path is decoded to a file that exists (escaped partition directories included).
    if (want.data !== false) for (const f of snap.files) expect(existsSync(f.location), f.location).toBe(true);
    if (want.rows !== null) expect(await logicalRows(snap)).toBe(want.rows);
  });

  it.each(Object.entries(REFUSED))('delta-spark/%s is refused', async (name, want) => {
    const err = await refusal(resolveDeltaSnapshot(store, table(`delta-spark/${name}`)));
    expect(err.code).toBe(want.code);
    expect(err.message).toContain(want.says);
    expect(err.message).toContain(name);
  });
});

describe('time travel', () => {
  const deletes = 'delta-spark/basic-with-inserts-deletes-checkpoint';
  // Hand replay of its commits: files and rows at each version (8 appends of 10 rows interleaved with deletes of 5).
  const files = [1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 6, 7, 8, 7];
  const rows = [10, 20, 30, 40, 50, 45, 40, 35, 30, 25, 35, 45, 55, 41];
  const commitTimes = (name: string): number[] =>
    readdirSync(path.join(table(name), '_delta_log')).filter((n) => /^\d{20}\.json$/.test(n)).sort().map((n) => {
      const line = readFileSync(path.join(table(name), '_delta_log', n), 'utf8').split('\n').find((l) => l.includes('"commitInfo"')) as string;
      return (JSON.parse(line) as { commitInfo: { timestamp: number } }).commitInfo.timestamp;
    });

  it('version N rebuilds each version, from commits before the checkpoint and from it after', async () => {
    for (let v = 0; v <= 13; v++) {
      const snap = await resolveDeltaSnapshot(store, table(deletes), { version: v });
      expect([snap.version, snap.files.length, await logicalRows(snap)]).toEqual([v, files[v], rows[v]]);
      expect(snap.logSegment.checkpointVersion).toBe(v >= 10 ? 10 : null);
    }
  });

  it('simple_table and checkpoints: file counts per version', async () => {
    const simple = [6, 22, 6, 6, 5];
    for (let v = 0; v < simple.length; v++) expect((await resolveDeltaSnapshot(store, table('delta/simple_table'), { version: v })).files).toHaveLength(simple[v] as number);
    for (const v of [0, 1, 6, 12]) expect((await resolveDeltaSnapshot(store, table('delta/checkpoints'), { version: v })).files).toHaveLength(v);
  });

  it('the latest metaData and protocol win, per version', async () => {
    const lmp = table('delta-spark/log-replay-latest-metadata-protocol');
    const versions = await Promise.all([0, 1, 2].map((version) => resolveDeltaSnapshot(store, lmp, { version })));
    expect(versions.map((s) => [s.protocol.minReaderVersion, s.protocol.minWriterVersion, s.schema?.map((c) => c.name)])).toEqual([
      [1, 2, ['col1']], [1, 2, ['col1', 'col2']], [3, 7, ['col1', 'col2']],
    ]);
    const parts = table('delta-spark/time-travel-partition-changes-b');
    const p0 = await resolveDeltaSnapshot(store, parts, { version: 0 });
    const p1 = await resolveDeltaSnapshot(store, parts, { version: 1 });
    expect([p0.partitionColumns, p1.partitionColumns]).toEqual([['part5'], ['part2']]);
    for (const f of p1.files) expect(Object.keys(f.partitionValues)).toEqual(['part2']);
  });

  it('DV tables: a version between checkpoints and the checkpoint version itself', async () => {
    const dv = await resolveDeltaSnapshot(store, table('delta-spark/dv-partitioned-with-checkpoint'), { version: 10 });
    // _last_checkpoint of this table says numOfAddFiles 18 at version 10.
    expect([dv.files.length, dv.files.filter((f) => f.deletionVector).length, dv.logSegment.checkpointVersion, dv.logSegment.commitsRead]).toEqual([18, 3, 10, 0]);
    const v9 = await resolveDeltaSnapshot(store, table('delta-spark/dv-partitioned-with-checkpoint'), { version: 9 });
    expect([v9.files.length, v9.files.filter((f) => f.deletionVector).length, v9.logSegment.checkpointVersion]).toEqual([19, 4, null]);
    const b = await resolveDeltaSnapshot(store, table('delta-spark/basic-dv-with-checkpoint'), { version: 24 });
    expect([b.files.filter((f) => f.deletionVector).length, await logicalRows(b), b.logSegment.checkpointVersion]).toEqual([2, 476, 20]);
    const v2 = await resolveDeltaSnapshot(store, table('delta/checkpoint-v2-table'), { version: 7 });
    expect([v2.files.length, v2.logSegment.checkpointVersion, v2.logSegment.checkpointKind]).toEqual([6, 6, 'uuid']);
  });

  it('asOf picks the latest version committed at or before the instant', async () => {
    const ts = commitTimes(deletes);
    expect(ts).toHaveLength(14);
    const at = async (ms: number): Promise<DeltaSnapshot> => resolveDeltaSnapshot(store, table(deletes), { asOf: new Date(ms).toISOString() });
    expect((await at(ts[5] as number)).version).toBe(5);
    expect((await at((ts[6] as number) - 1)).version).toBe(5);
    expect((await at(ts[0] as number)).version).toBe(0);
    expect((await at(ts[13] as number)).version).toBe(13);
    expect((await at(Date.parse('2100-01-01T00:00:00Z'))).version).toBe(13);
    const s11 = await at((ts[11] as number) + 1);
    expect([s11.version, s11.commitTimestampMs, s11.sourceAsOf]).toEqual([11, ts[11], new Date(ts[11] as number).toISOString()]);
    const before = await refusal(at((ts[0] as number) - 1000));
    expect([before.code, before.message.includes('before the earliest available version 0')]).toEqual(['DELTA_LOG_INVALID', true]);
  });

  it('asOf with equal commit times (delta/checkpoints v11 and v12) resolves to the later version', async () => {
    const ts = commitTimes('delta/checkpoints');
    expect(ts[11]).toBe(ts[12]);
    expect((await resolveDeltaSnapshot(store, table('delta/checkpoints'), { asOf: new Date(ts[12] as number).toISOString() })).version).toBe(12);
  });

  it('a cleaned-up version is refused; versions from the oldest checkpoint on still resolve', async () => {
    const t = table('delta/checkpoints_vacuumed');
    const gone = await refusal(resolveDeltaSnapshot(store, t, { version: 3 }));
    expect(gone.code).toBe('DELTA_LOG_INVALID');
    expect(gone.message).toContain('version 3 was cleaned up from the log (earliest available is 5)');
    const v5 = await resolveDeltaSnapshot(store, t, { version: 5 });
    expect([v5.files.length, v5.logSegment.checkpointVersion]).toEqual([5, 5]);
    const v7 = await resolveDeltaSnapshot(store, t, { version: 7 });
    expect([v7.files.length, v7.logSegment.checkpointVersion, v7.logSegment.commitsRead]).toEqual([7, 5, 2]);
    const ts = commitTimes('delta/checkpoints');
    const early = await refusal(resolveDeltaSnapshot(store, t, { asOf: new Date(ts[1] as number).toISOString() }));
    expect(early.message).toContain('before the earliest available version 5');
  });

  it('bad targets are refused', async () => {
    const future = await refusal(resolveDeltaSnapshot(store, table(deletes), { version: 14 }));
    expect([future.code, future.message.includes('version 14 does not exist (latest is 13')]).toEqual(['DELTA_LOG_INVALID', true]);
    expect((await refusal(resolveDeltaSnapshot(store, table(deletes), { version: 1, asOf: '2023-08-07T00:00:00Z' }))).code).toBe('CONFIG_INVALID');
    expect((await refusal(resolveDeltaSnapshot(store, table(deletes), { asOf: 'yesterday' }))).code).toBe('CONFIG_INVALID');
    // Zone-less would mean "the server's local time": refused rather than guessed.
    expect((await refusal(resolveDeltaSnapshot(store, table(deletes), { asOf: '2023-08-07T16:45:40' }))).code).toBe('CONFIG_INVALID');
    expect((await resolveDeltaSnapshot(store, table(deletes), { asOf: '2023-08-07T18:45:40.500+02:00' })).version).toBe(10); // = ts[10] exactly
    expect((await refusal(resolveDeltaSnapshot(store, table(deletes), { version: -1 }))).code).toBe('CONFIG_INVALID');
  });
});

describe('_last_checkpoint is only a hint', () => {
  it('empty (corrupted-last-checkpoint-kernel), absent (with_checkpoint_no_last_checkpoint), stale (table_failed_last_checkpoint_update)', async () => {
    const corrupted = await resolveDeltaSnapshot(store, table('delta-spark/corrupted-last-checkpoint-kernel'));
    expect([corrupted.version, corrupted.logSegment.checkpointVersion, corrupted.logSegment.commitsRead]).toEqual([11, 10, 1]);
    expect(existsSync(path.join(table('delta/with_checkpoint_no_last_checkpoint'), '_delta_log/_last_checkpoint'))).toBe(false);
    const absent = await resolveDeltaSnapshot(store, table('delta/with_checkpoint_no_last_checkpoint'));
    expect([absent.version, absent.logSegment.checkpointVersion]).toEqual([3, 2]);
    const stale = await resolveDeltaSnapshot(store, table('delta/table_failed_last_checkpoint_update'));
    expect(JSON.parse(readFileSync(path.join(table('delta/table_failed_last_checkpoint_update'), '_delta_log/_last_checkpoint'), 'utf8')).version).toBe(1);
    expect([stale.version, stale.files.length, stale.logSegment.checkpointVersion]).toEqual([3, 4, 3]);
  });

  it.each([
    ['not JSON', '{"version": 10, "si'],
    ['a version with no checkpoint', '{"version":12,"size":3}'],
    ['a version past the end of the log', '{"version":99,"size":3}'],
    ['a negative version', '{"version":-1}'],
    ['a JSON array', '[10]'],
  ])('a _last_checkpoint holding %s falls back to listing', async (_what, text) => {
    const dir = copyLog('delta-spark/basic-with-inserts-deletes-checkpoint');
    writeFileSync(path.join(dir, '_delta_log/_last_checkpoint'), text);
    const snap = await resolveDeltaSnapshot(store, dir);
    expect([snap.version, snap.files.length, snap.logSegment.checkpointVersion]).toEqual([13, 7, 10]);
    expect(await latestDeltaVersion(store, dir)).toBe(13);
  });

  it('a hint pointing at an older checkpoint still leads to the newest one', async () => {
    const dir = copyLog('delta-spark/basic-dv-with-checkpoint');
    writeFileSync(path.join(dir, '_delta_log/_last_checkpoint'), '{"version":20,"size":44}');
    const snap = await resolveDeltaSnapshot(store, dir);
    expect([snap.version, snap.logSegment.checkpointVersion, snap.logSegment.commitsRead]).toEqual([46, 40, 6]);
  });
});

describe('multi-part and v2 checkpoints', () => {
  it('multi-part: both parts are read; with a part missing the checkpoint is skipped for the commits', async () => {
    const snap = await resolveDeltaSnapshot(store, table('delta-spark/multi-part-checkpoint'));
    expect([snap.logSegment.checkpointKind, snap.logSegment.checkpointVersion, snap.files.length]).toEqual(['multipart', 1, 10]);
    const dir = copyLog('delta-spark/multi-part-checkpoint');
    rmSync(path.join(dir, '_delta_log/00000000000000000001.checkpoint.0000000002.0000000002.parquet'));
    const partial = await resolveDeltaSnapshot(store, dir);
    expect([partial.logSegment.checkpointVersion, partial.files.length]).toEqual([null, 10]);
    expect(partial.files.map((f) => path.basename(f.location)).sort()).toEqual(snap.files.map((f) => path.basename(f.location)).sort());
  });

  it('v2 checkpoints (JSON and Parquet top level) read their sidecars', async () => {
    for (const name of ['delta-spark/v2-checkpoint-json', 'delta-spark/v2-checkpoint-parquet']) {
      const snap = await resolveDeltaSnapshot(store, table(name));
      expect([snap.logSegment.checkpointKind, snap.logSegment.checkpointVersion, snap.logSegment.commitsRead, snap.files.length]).toEqual(['uuid', 2, 0, 4]);
      expect(snap.protocol.readerFeatures).toContain('v2Checkpoint');
    }
  });

  it('a v2 checkpoint whose sidecar is missing is refused, naming the sidecar', async () => {
    const dir = copyLog('delta-spark/v2-checkpoint-parquet');
    const sidecars = path.join(dir, '_delta_log/_sidecars');
    const gone = readdirSync(sidecars).find((n) => n.endsWith('.parquet')) as string; // not a Hadoop .crc
    rmSync(path.join(sidecars, gone));
    const err = await refusal(resolveDeltaSnapshot(store, dir));
    expect(err.code).toBe('DELTA_LOG_INVALID');
    expect(err.message).toContain(gone);
  });

  it('only checkpoints and commits after them are read once the checkpoint exists (earlier commits may be gone)', async () => {
    const dir = copyLog('delta-spark/only-checkpoint-files');
    rmSync(path.join(dir, '_delta_log/00000000000000000000.json'));
    rmSync(path.join(dir, '_delta_log/00000000000000000001.json'));
    const snap = await resolveDeltaSnapshot(store, dir);
    expect([snap.version, snap.files.length]).toEqual([2, 7]);
    const v1 = await resolveDeltaSnapshot(store, dir, { version: 1 });
    expect([v1.files.length, v1.logSegment.checkpointVersion]).toEqual([5, 1]);
    expect((await refusal(resolveDeltaSnapshot(store, dir, { version: 0 }))).message).toContain('cleaned up');
  });
});

describe('partition values', () => {
  const micros = (iso: string): bigint => BigInt(Date.parse(iso)) * 1000n;

  it('data-reader-partition-values: typed strings, the string "null", and a file whose values are all null', async () => {
    const snap = await resolveDeltaSnapshot(store, table('delta-spark/data-reader-partition-values'));
    const byInt = new Map(snap.files.map((f) => [f.partitionValues['as_int'] ?? null, f.partitionValues]));
    expect(byInt.get('1')).toMatchObject({ as_boolean: 'false', as_string_lit_null: 'null', as_timestamp: '2021-09-08 11:11:11', as_date: '2021-09-08', as_big_decimal: '1' });
    const allNull = byInt.get(null) as Record<string, string | null>;
    expect(Object.values(allNull).every((v) => v === null)).toBe(true);
    expect(Object.keys(allNull)).toHaveLength(12);
    const col = (n: string): string => (snap.schema?.find((c) => c.name === n)?.type as string);
    expect(parsePartitionValue(col('as_string_lit_null'), 'null', 'p')).toBe('null');
    expect(parsePartitionValue(col('as_timestamp'), '2021-09-08 11:11:11', 'p')).toEqual({ timestampMicros: micros('2021-09-08T11:11:11Z') });
    expect(parsePartitionValue(col('as_big_decimal'), '1', 'p')).toBe('1');
    expect(parsePartitionValue(col('as_float'), '1.0', 'p')).toBe(1);
    expect(parsePartitionValue(col('as_byte'), '1', 'p')).toBe(1n);
  });

  it('column mapping name: partitionValues keyed by physical name come back under logical names', async () => {
    const snap = await resolveDeltaSnapshot(store, table('delta-spark/data-reader-partition-values-column-mapping-name'));
    const raw = readFileSync(path.join(table('delta-spark/data-reader-partition-values-column-mapping-name'), '_delta_log/00000000000000000000.json'), 'utf8');
    expect(raw).toContain('"partitionValues":{"col-');
    for (const f of snap.files) expect(Object.keys(f.partitionValues).sort()).toEqual([...snap.partitionColumns].sort());
    expect(snap.files.map((f) => f.partitionValues['as_int']).sort()).toEqual(['0', '1', null]);
    const physical = snap.schema?.find((c) => c.name === 'as_int')?.physicalName;
    expect(physical).toMatch(/^col-/);
    // delta-rs: a partition column whose logical name has spaces, keyed by `col-173b…` in the log.
    const rs = await resolveDeltaSnapshot(store, table('delta/table_with_column_mapping'));
    expect(rs.schema?.find((c) => c.name === 'Company Very Short')?.physicalName).toBe('col-173b4db9-b5ad-427f-9e75-516aae37fbbb');
    expect(rs.files.map((f) => f.partitionValues['Company Very Short']).sort()).toEqual(['BME', 'BMS']);
  });

  it('"" and null are null for every type; the string "null" is a value only for strings', () => {
    for (const t of ['integer', 'long', 'string', 'date', 'timestamp', 'decimal(10,2)', 'boolean', 'double']) {
      expect(parsePartitionValue(t, '', 'c')).toBeNull();
      expect(parsePartitionValue(t, null, 'c')).toBeNull();
    }
    expect(parsePartitionValue('string', 'null', 'c')).toBe('null');
    expect(() => parsePartitionValue('integer', 'null', 'c')).toThrow(MaltError);
  });

  it('timestamps: Spark\'s zone-less form read as UTC, ISO-8601 with Z or an offset, microseconds kept', () => {
    expect(parsePartitionValue('timestamp', '2020-01-01 08:09:10.001', 'c')).toEqual({ timestampMicros: micros('2020-01-01T08:09:10.001Z') });
    expect(parsePartitionValue('timestamp', '1969-01-01 00:00:00', 'c')).toEqual({ timestampMicros: micros('1969-01-01T00:00:00Z') });
    expect(parsePartitionValue('timestamp', '2024-01-01T10:00:00.000000Z', 'c')).toEqual({ timestampMicros: micros('2024-01-01T10:00:00Z') });
    expect(parsePartitionValue('timestamp', '2024-01-01T11:30:00+01:30', 'c')).toEqual({ timestampMicros: micros('2024-01-01T10:00:00Z') });
    expect(parsePartitionValue('timestamp_ntz', '2021-11-18 02:30:00.123456', 'c')).toEqual({ timestampMicros: micros('2021-11-18T02:30:00Z') + 123456n });
    expect(() => parsePartitionValue('timestamp_ntz', '2021-11-18 02:30:00+01:00', 'c')).toThrow(/no time zone/);
    expect(() => parsePartitionValue('timestamp', '2021-02-30 00:00:00', 'c')).toThrow(/no such day|out of range/);
    expect(() => parsePartitionValue('timestamp', '2021-09-08 11:11:11.0000001', 'c')).toThrow(/microseconds/);
    expect(() => parsePartitionValue('timestamp', 'yesterday', 'c')).toThrow(MaltError);
  });

  it('dates, decimals, booleans, numbers, and refusals', () => {
    expect(parsePartitionValue('date', '2021-09-08', 'c')).toEqual({ timestampMicros: micros('2021-09-08T00:00:00Z') });
    expect(parsePartitionValue('date', '1900-02-28', 'c')).toEqual({ timestampMicros: micros('1900-02-28T00:00:00Z') });
    expect(() => parsePartitionValue('date', '1900-02-29', 'c')).toThrow(/no such day/);
    // basic-decimal-table: part decimal(12,5)
    expect(parsePartitionValue('decimal(12,5)', '234.00000', 'c')).toBe('234.00000');
    expect(parsePartitionValue('decimal(12,5)', '-2342342.23423', 'c')).toBe('-2342342.23423');
    expect(parsePartitionValue('decimal(12,5)', '0.00004', 'c')).toBe('0.00004');
    expect(parsePartitionValue('decimal(12,5)', '1.5', 'c')).toBe('1.50000');
    expect(parsePartitionValue('decimal(4,2)', '-0.00', 'c')).toBe('0.00');
    expect(() => parsePartitionValue('decimal(12,5)', '0.000001', 'c')).toThrow(/fraction digits/);
    expect(() => parsePartitionValue('decimal(4,2)', '123.45', 'c')).toThrow(/digits/);
    expect(parsePartitionValue('boolean', 'true', 'c')).toBe(true);
    expect(parsePartitionValue('boolean', 'FALSE', 'c')).toBe(false);
    expect(() => parsePartitionValue('boolean', 'yes', 'c')).toThrow(MaltError);
    expect(parsePartitionValue('long', '-9223372036854775808', 'c')).toBe(-9223372036854775808n);
    expect(() => parsePartitionValue('byte', '128', 'c')).toThrow(/out of range/);
    expect(() => parsePartitionValue('integer', '1.0', 'c')).toThrow(MaltError);
    expect(parsePartitionValue('double', 'NaN', 'c')).toBeNaN();
    expect(parsePartitionValue('double', '-Infinity', 'c')).toBe(-Infinity);
    expect(parsePartitionValue('float', '0.1', 'c')).toBe(Math.fround(0.1));
    const err = (() => { try { parsePartitionValue('binary', '\u0001', 'table t column b'); return null; } catch (x) { return x as MaltError; } })();
    expect([err?.code, err?.message.includes('table t column b')]).toEqual(['SCHEMA_MISMATCH', true]);
  });

  it('delta-rs partitions: typed ints and strings, a null partition, escaped special characters', async () => {
    const typed = await resolveDeltaSnapshot(store, table('delta/delta-2.2.0-partitioned-types'));
    expect(typed.files.map((f) => [f.partitionValues['c1'], f.partitionValues['c2']]).sort()).toEqual([['4', 'c'], ['5', 'b'], ['6', 'a']]);
    expect(parsePartitionValue('integer', '4', 'c')).toBe(4n);
    const nulls = await resolveDeltaSnapshot(store, table('delta/delta-0.8.0-null-partition'));
    expect(nulls.files.map((f) => f.partitionValues['k']).sort()).toEqual(['A', null]);
    const escaped = await resolveDeltaSnapshot(store, table('delta-spark/data-reader-escaped-chars'));
    // add.path is the Hive-escaped directory URI-encoded once more: decoded once, the directory is `_2=bar+%2521`.
    expect(escaped.files.map((f) => path.basename(path.dirname(f.location))).sort()).toEqual(['_2=bar+%2521', '_2=bar+%2522', '_2=bar+%2523']);
    expect(escaped.files.map((f) => f.partitionValues['_2']).sort()).toEqual(['bar+%21', 'bar+%22', 'bar+%23']);
  });
});
