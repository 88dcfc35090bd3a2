/**
 * The loader workload's table: `rows` players × 15 columns (a string key, int64s, doubles, bools,
 * a timestamp, strings and a string_list), written once with hyparquet-writer as Parquet files of
 * up to 125 000 rows in row groups of 62 500, and cached under <dataDir>/loader-<rows>/:
 *
 *   parquet/part-0000N.parquet      the files `format: parquet` loads
 *   delta/part-0000N.parquet        hard links to the same files (a copy where links fail)
 *   delta/_delta_log/00000000000000000000.json   protocol (1, 2), metaData, one add per file
 *   hset.resp                       the RESP stream `redis-cli --pipe` replays (loader-resp.mjs)
 *   .complete                       written last; a table without it is rewritten
 *
 * The Delta log is written by hand (the writer has no Delta support): minimal but valid per
 * PROTOCOL.md — reader version 1 / writer version 2, no features, no partitions.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { prng } from '../../dist/sample/sample-lake.js';
import { RespWriter } from './loader-resp.mjs';

/** Bump when the generated data changes, so cached tables are rewritten. */
const GENERATOR_VERSION = 1;
export const ROWS_PER_FILE = 125_000;
export const ROW_GROUP_ROWS = 62_500;
export const LOADER_DATASET = 'loader_players';
export const LOADER_KEY_PREFIX = 'bload';

/** The served columns in file order (the key `player_id` first, not listed here). */
export const LOADER_COLUMNS = [
  { name: 'level', type: 'int64' }, { name: 'xp', type: 'int64' }, { name: 'coins', type: 'int64' }, { name: 'sessions_30d', type: 'int64' },
  { name: 'ltv', type: 'double' }, { name: 'churn_score', type: 'double' }, { name: 'win_rate', type: 'double' },
  { name: 'is_payer', type: 'bool' }, { name: 'is_banned', type: 'bool' },
  { name: 'last_login', type: 'timestamp' },
  { name: 'country', type: 'string' }, { name: 'platform', type: 'string' }, { name: 'display_name', type: 'string' },
  { name: 'tags', type: 'string_list' },
];

const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'BR', 'JP', 'KR', 'IN', 'MX', 'CA', 'AU', 'TR'];
const PLATFORMS = ['ios', 'android', 'pc', 'console'];
const TAGS = ['pvp', 'pve', 'guild_leader', 'social', 'collector', 'speedrunner', 'casual', 'night_owl'];
const BASE_US = BigInt(Date.UTC(2026, 10, 1)) * 1000n;

const parquetSchemaOf = () => {
  const opt = 'OPTIONAL';
  const leaf = { int64: { type: 'INT64' }, double: { type: 'DOUBLE' }, bool: { type: 'BOOLEAN' }, string: { type: 'BYTE_ARRAY', converted_type: 'UTF8' },
    timestamp: { type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } } };
  const schema = [{ name: 'root', num_children: LOADER_COLUMNS.length + 1 }, { name: 'player_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }];
  for (const c of LOADER_COLUMNS) {
    if (c.type === 'string_list') {
      schema.push({ name: c.name, repetition_type: opt, num_children: 1, converted_type: 'LIST' },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: opt });
    } else schema.push({ name: c.name, repetition_type: opt, ...leaf[c.type] });
  }
  return schema;
};

/** The Delta schemaString of the same columns (PROTOCOL.md "Schema Serialization Format"). */
export function deltaSchemaString() {
  const deltaType = { int64: 'long', double: 'double', bool: 'boolean', string: 'string', timestamp: 'timestamp',
    string_list: { type: 'array', elementType: 'string', containsNull: true } };
  const fields = [{ name: 'player_id', type: 'string', nullable: false, metadata: {} },
    ...LOADER_COLUMNS.map((c) => ({ name: c.name, type: deltaType[c.type], nullable: true, metadata: {} }))];
  return JSON.stringify({ type: 'struct', fields });
}

/**
 * One file's columns, deterministic in (seed, first row). Values as malt holds them in memory
 * (int64 as bigint here for the writer, timestamps as bigint µs), nulls at a few percent.
 */
function fileColumns(first, count, rand) {
  const cols = Object.fromEntries([['player_id', []], ...LOADER_COLUMNS.map((c) => [c.name, []])]);
  const maybe = (p, v) => (rand() < p ? null : v);
  const int = (n) => Math.floor(rand() * n);
  for (let i = first; i < first + count; i++) {
    cols.player_id.push(`p_${String(i).padStart(7, '0')}`);
    const spend = rand() < 0.02 ? rand() * 5000 : rand() < 0.3 ? rand() * 50 : 0;
    cols.level.push(maybe(0.01, BigInt(1 + int(120))));
    cols.xp.push(BigInt(int(5_000_000)));
    cols.coins.push(maybe(0.02, BigInt(int(1_000_000))));
    cols.sessions_30d.push(BigInt(int(200)));
    cols.ltv.push(maybe(0.05, Math.round(spend * 100) / 100));
    cols.churn_score.push(Math.round(rand() * 1000) / 1000);
    cols.win_rate.push(maybe(0.01, Math.round(rand() * 10_000) / 10_000));
    cols.is_payer.push(maybe(0.02, spend > 0));
    cols.is_banned.push(rand() < 0.003);
    cols.last_login.push(maybe(0.04, BASE_US - BigInt(int(30 * 86_400)) * 1_000_000n - BigInt(int(1_000_000))));
    cols.country.push(maybe(0.03, COUNTRIES[int(COUNTRIES.length)]));
    cols.platform.push(PLATFORMS[int(PLATFORMS.length)]);
    cols.display_name.push(maybe(0.01, `h${int(2 ** 31).toString(36)}`));
    const n = int(4);
    cols.tags.push(rand() < 0.1 ? null : TAGS.filter(() => rand() < n / TAGS.length));
  }
  return cols;
}

function writeDeltaLog(deltaDir, files) {
  const logDir = path.join(deltaDir, '_delta_log');
  mkdirSync(logDir, { recursive: true });
  const now = Date.now();
  const actions = [
    { commitInfo: { timestamp: now, operation: 'WRITE', operationParameters: { mode: 'Overwrite' }, engineInfo: 'malt-bench' } },
    { protocol: { minReaderVersion: 1, minWriterVersion: 2 } },
    { metaData: { id: randomUUID(), format: { provider: 'parquet', options: {} }, schemaString: deltaSchemaString(), partitionColumns: [], configuration: {}, createdTime: now } },
    ...files.map((f) => {
      const st = statSync(path.join(deltaDir, f));
      return { add: { path: f, partitionValues: {}, size: st.size, modificationTime: Math.floor(st.mtimeMs), dataChange: true } };
    }),
  ];
  writeFileSync(path.join(logDir, '00000000000000000000.json'), `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`);
}

const linkOrCopy = (from, to) => {
  try { linkSync(from, to); } catch { copyFileSync(from, to); }
};

/**
 * Returns the table for `rows` (written on first use, cached): {dir, parquetDir, deltaDir,
 * respFile, files, rows, parquetBytes, resp: {bytes, valueBytes, samples, buckets}, writeSeconds, cached}.
 */
export function loaderTable(dataDir, rows, log) {
  const dir = path.join(dataDir, `loader-${rows}`);
  const marker = path.join(dir, '.complete');
  if (existsSync(marker)) {
    const meta = JSON.parse(readFileSync(marker, 'utf8'));
    if (meta.generator === GENERATOR_VERSION) return { ...meta, ...paths(dir), cached: true };
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const p = paths(tmp);
  mkdirSync(p.parquetDir, { recursive: true });
  mkdirSync(p.deltaDir, { recursive: true });
  log(`writing the loader table: ${rows.toLocaleString('en-US')} rows × ${LOADER_COLUMNS.length + 1} columns to ${dir} (cached for later runs)`);
  const t0 = performance.now();
  const fileCount = Math.max(1, Math.ceil(rows / ROWS_PER_FILE));
  const perFile = Math.ceil(rows / fileCount);
  const rand = prng(7);
  const resp = new RespWriter(p.respFile, rows, { prefix: LOADER_KEY_PREFIX, dataset: LOADER_DATASET, columns: LOADER_COLUMNS });
  const files = [];
  let parquetBytes = 0;
  const schema = parquetSchemaOf();
  for (let f = 0; f < fileCount; f++) {
    const first = f * perFile;
    const count = Math.min(perFile, rows - first);
    const cols = fileColumns(first, count, rand);
    const name = `part-${String(f).padStart(5, '0')}.parquet`;
    const file = path.join(p.parquetDir, name);
    parquetWriteFile({ filename: file, schema, codec: 'SNAPPY', rowGroupSize: ROW_GROUP_ROWS, columnData: Object.entries(cols).map(([n, data]) => ({ name: n, data })) });
    parquetBytes += statSync(file).size;
    linkOrCopy(file, path.join(p.deltaDir, name));
    resp.addRows(cols);
    files.push(name);
  }
  const respStats = resp.close();
  writeDeltaLog(p.deltaDir, files);
  const meta = { generator: GENERATOR_VERSION, rows, files, parquetBytes, resp: respStats, writtenAt: new Date().toISOString(), writeSeconds: Math.round((performance.now() - t0) / 100) / 10 };
  writeFileSync(path.join(tmp, '.complete'), `${JSON.stringify(meta)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`  wrote ${files.length} files (${(parquetBytes / 2 ** 20).toFixed(1)} MiB Parquet, ${(respStats.bytes / 2 ** 20).toFixed(1)} MiB RESP) in ${meta.writeSeconds} s`);
  return { ...meta, ...paths(dir), cached: false };
}

function paths(dir) {
  return { dir, parquetDir: path.join(dir, 'parquet'), deltaDir: path.join(dir, 'delta'), respFile: path.join(dir, 'hset.resp') };
}

/** The malt config document for one load: a fresh Redis, the table as parquet or delta. */
export function loaderConfigDocument(table, { redisUrl, format }) {
  return {
    redis: { url: redisUrl, key_prefix: LOADER_KEY_PREFIX },
    datasets: [{
      name: LOADER_DATASET, kind: 'features',
      source: { format, uri: format === 'delta' ? table.deltaDir : table.parquetDir },
      key: 'player_id',
      columns: Object.fromEntries(LOADER_COLUMNS.map((c) => [c.name, c.type])),
    }],
  };
}
