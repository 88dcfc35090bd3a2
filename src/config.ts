/**
 * The one config module. The YAML file (MALT_CONFIG, default ./malt.yaml) declares datasets and
 * settings; environment variables override server settings. Parsed once, every problem reported
 * together, defaults named below, result frozen. See docs/configuration.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type ColumnType, type TypedValue, isColumnType, parseDefault, COLUMN_TYPES } from './column-types.js';
import { MaltError } from './errors.js';

export const DEFAULTS = Object.freeze({
  keyPrefix: 'malt',
  embeddedDir: './.malt/redis',
  host: '127.0.0.1',
  httpPort: 8080,
  grpcPort: 50051,
  requestTimeoutMs: 250,
  maxBatchSize: 1000,
  maxBodyBytes: 1024 * 1024,
  versionPollMs: 500,
  maxPendingReads: 20_000,
  cacheMaxBytes: 64 * 1024 * 1024,
  cacheNegativeTtlMs: 1000,
  loaderBatchRows: 1000,
  loaderMaxBatchesInFlight: 4,
  loaderLockTtlMs: 30_000,
  loaderReclaimGraceMs: 30_000,
  keepVersions: 3,
  minRows: 1,
  maxRejectedFraction: 0.01,
  syncIntervalMs: 5 * 60_000,
  syncJitter: 0.1,
});

import type { DatasetKind } from './model/types.js';

export type { DatasetKind } from './model/types.js';

export interface DatasetChecks {
  readonly minRows: number;
  readonly maxRejectedFraction: number;
  /** Refuse a load whose row count drops by more than this fraction vs the current version. */
  readonly maxRowDropFraction: number | null;
  /** Refuse a load where a column's null fraction exceeds the limit: `default` for every served column, `columns` per column. */
  readonly maxNullFraction: { readonly default: number | null; readonly columns: Readonly<Record<string, number>> };
  /** When false (default), a column that disappears or changes type vs the served version refuses the load. */
  readonly allowSchemaChange: boolean;
}

export type SourceFormat = 'parquet' | 'delta';

export interface SourceConfig {
  readonly format: SourceFormat;
  /** Absolute local path (file, directory or glob) or s3://bucket/prefix. */
  readonly uri: string;
  /** Delta time travel: load this table version (null = latest). */
  readonly version: number | null;
  /** Delta time travel: the latest version committed at or before this RFC 3339 instant (null = latest). */
  readonly asOf: string | null;
  /** Hive-partitioned Parquet: 'all' partitions, or only the greatest value of the first level ('latest'). */
  readonly partition: 'all' | 'latest';
  /** Parquet folders: load only when Spark's _SUCCESS marker is present. */
  readonly requireSuccessMarker: boolean;
}

export interface SyncConfig {
  /** How often `malt sync` checks the source for a new snapshot. */
  readonly intervalMs: number;
  /** Each wait is intervalMs × (1 ± jitter × random). */
  readonly jitter: number;
}

export interface DatasetConfig {
  readonly name: string;
  readonly kind: DatasetKind;
  readonly source: SourceConfig;
  readonly sync: SyncConfig;
  readonly key: string;
  /** Declared columns in declaration order; null = every non-key column, types from Parquet. */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: ColumnType }> | null;
  /** Raw defaults from the file; typed against the column types at load/serve time. */
  readonly defaults: Readonly<Record<string, unknown>>;
  readonly keepVersions: number;
  readonly segmentColumn: string | null;
  readonly checks: DatasetChecks;
  /** When true, this dataset having no served version does not make the replica unready (default false). */
  readonly allowEmpty: boolean;
}

export interface MaltConfig {
  readonly configPath: string | null;
  readonly redis: { readonly url: string | null; readonly keyPrefix: string; readonly embeddedDir: string };
  readonly serving: {
    readonly host: string;
    readonly httpPort: number;
    readonly grpcPort: number;
    readonly requestTimeoutMs: number;
    readonly maxBatchSize: number;
    readonly maxBodyBytes: number;
    readonly versionPollMs: number;
    /** Redis reads outstanding at once; beyond it new misses fail fast (STORE_UNAVAILABLE). */
    readonly maxPendingReads: number;
    /** Bearer token for admin calls over HTTP (rollback); null = loopback-only admin. */
    readonly adminToken: string | null;
  };
  readonly cache: { readonly maxBytes: number; readonly negativeTtlMs: number };
  readonly loader: {
    readonly batchRows: number;
    readonly maxBatchesInFlight: number;
    readonly lockTtlMs: number;
    /** How long a replaced version stays readable before reclaim may delete it. */
    readonly reclaimGraceMs: number;
  };
  /** S3 client settings for s3:// sources (credentials come from the AWS SDK's standard chain). */
  readonly s3: { readonly region: string | null; readonly endpoint: string | null; readonly forcePathStyle: boolean };
  readonly datasets: readonly DatasetConfig[];
}

const DATASET_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** Collects problems with their YAML path so they can all be reported at once. */
class Problems {
  readonly list: string[] = [];
  add(where: string, message: string): void {
    this.list.push(`${where}: ${message}`);
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Obj, allowed: readonly string[], where: string, p: Problems): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) p.add(`${where}.${k}`, `unknown key (allowed: ${allowed.join(', ')})`);
  }
}

function section(root: Obj, key: string, allowed: readonly string[], p: Problems): Obj {
  const v = root[key];
  if (v === undefined || v === null) return {};
  if (!isObj(v)) {
    p.add(key, 'must be a mapping');
    return {};
  }
  checkKeys(v, allowed, key, p);
  return v;
}

function int(obj: Obj, key: string, where: string, def: number, min: number, max: number, p: Problems): number {
  const v = obj[key];
  if (v === undefined || v === null) return def;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    p.add(`${where}.${key}`, `must be an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
    return def;
  }
  return n;
}

function fraction(obj: Obj, key: string, where: string, def: number | null, p: Problems): number | null {
  const v = obj[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || v < 0 || v > 1) {
    p.add(`${where}.${key}`, `must be a number between 0 and 1, got ${JSON.stringify(v)}`);
    return def;
  }
  return v;
}

function bool(obj: Obj, key: string, where: string, def: boolean, p: Problems): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'boolean') {
    p.add(`${where}.${key}`, `must be true or false, got ${JSON.stringify(v)}`);
    return def;
  }
  return v;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration: a number of milliseconds or a string like 500ms, 30s, 5m, 1h. */
function duration(obj: Obj, key: string, where: string, def: number, min: number, max: number, p: Problems): number {
  const v = obj[key];
  if (v === undefined || v === null) return def;
  let ms: number | null = null;
  if (typeof v === 'number' && Number.isFinite(v)) ms = v;
  else if (typeof v === 'string') {
    const m = DURATION.exec(v.trim());
    if (m) ms = Number(m[1]) * (DURATION_MS[m[2] as string] as number);
  }
  if (ms === null || ms < min || ms > max) {
    p.add(`${where}.${key}`, `must be a duration between ${min} ms and ${max} ms (e.g. 30s, 5m, 1h), got ${JSON.stringify(v)}`);
    return def;
  }
  return Math.round(ms);
}

function str(obj: Obj, key: string, where: string, p: Problems, required: boolean): string | null {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) p.add(`${where}.${key}`, 'is required');
    return null;
  }
  if (typeof v !== 'string' || v.length === 0) {
    p.add(`${where}.${key}`, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return null;
  }
  return v;
}

function parseChecks(raw: unknown, where: string, p: Problems): DatasetChecks {
  const checks = raw ?? {};
  if (!isObj(checks)) {
    p.add(`${where}.checks`, 'must be a mapping');
    return { minRows: DEFAULTS.minRows, maxRejectedFraction: DEFAULTS.maxRejectedFraction, maxRowDropFraction: null, maxNullFraction: { default: null, columns: {} }, allowSchemaChange: false };
  }
  checkKeys(checks, ['min_rows', 'max_rejected_fraction', 'max_row_drop_fraction', 'max_null_fraction', 'allow_schema_change'], `${where}.checks`, p);
  let maxNullFraction: DatasetChecks['maxNullFraction'] = { default: null, columns: {} };
  const mnf = checks['max_null_fraction'];
  if (isObj(mnf)) {
    const cols: Record<string, number> = {};
    for (const col of Object.keys(mnf)) {
      const f = fraction(mnf, col, `${where}.checks.max_null_fraction`, null, p);
      if (f !== null) cols[col] = f;
    }
    maxNullFraction = { default: null, columns: cols };
  } else {
    maxNullFraction = { default: fraction(checks, 'max_null_fraction', `${where}.checks`, null, p), columns: {} };
  }
  const allowSchemaChange = bool(checks, 'allow_schema_change', `${where}.checks`, false, p);
  return {
    minRows: int(checks, 'min_rows', `${where}.checks`, DEFAULTS.minRows, 0, Number.MAX_SAFE_INTEGER, p),
    maxRejectedFraction: fraction(checks, 'max_rejected_fraction', `${where}.checks`, DEFAULTS.maxRejectedFraction, p) ?? 0,
    maxRowDropFraction: fraction(checks, 'max_row_drop_fraction', `${where}.checks`, null, p),
    maxNullFraction, allowSchemaChange,
  };
}

const DATASET_KEYS = ['name', 'kind', 'source', 'key', 'columns', 'defaults', 'keep_versions', 'segment_column', 'checks', 'allow_empty', 'sync'] as const;

function parseDataset(raw: unknown, i: number, baseDir: string, p: Problems): DatasetConfig | null {
  const where = `datasets[${i}]`;
  if (!isObj(raw)) {
    p.add(where, 'must be a mapping');
    return null;
  }
  checkKeys(raw, DATASET_KEYS, where, p);
  const name = str(raw, 'name', where, p, true);
  if (name !== null && !DATASET_NAME.test(name)) {
    p.add(`${where}.name`, `"${name}" must match ${DATASET_NAME} (lower-case letters, digits, underscores)`);
  }
  const kindRaw = raw['kind'] ?? 'features';
  if (kindRaw !== 'features' && kindRaw !== 'segments') p.add(`${where}.kind`, `must be features or segments, got ${JSON.stringify(kindRaw)}`);
  const kind: DatasetKind = kindRaw === 'segments' ? 'segments' : 'features';
  const key = str(raw, 'key', where, p, true);

  let uri: string | null = null;
  let source: Omit<SourceConfig, 'uri'> = { format: 'parquet', version: null, asOf: null, partition: 'all', requireSuccessMarker: false };
  const src = raw['source'];
  if (!isObj(src)) {
    p.add(`${where}.source`, 'is required: { format: parquet | delta, uri: <path, glob or s3:// uri> }');
  } else {
    source = parseSource(src, `${where}.source`, p);
    uri = str(src, 'uri', `${where}.source`, p, true);
  }
  const syncRaw = raw['sync'] ?? {};
  if (!isObj(syncRaw)) p.add(`${where}.sync`, 'must be a mapping');
  const syncObj = isObj(syncRaw) ? syncRaw : {};
  checkKeys(syncObj, ['interval', 'jitter'], `${where}.sync`, p);
  const sync: SyncConfig = {
    intervalMs: duration(syncObj, 'interval', `${where}.sync`, DEFAULTS.syncIntervalMs, 1000, 7 * 86_400_000, p),
    jitter: fraction(syncObj, 'jitter', `${where}.sync`, DEFAULTS.syncJitter, p) ?? DEFAULTS.syncJitter,
  };

  const columns = parseColumns(raw['columns'], where, key, p);
  const defaults = raw['defaults'] ?? {};
  if (!isObj(defaults)) p.add(`${where}.defaults`, 'must be a mapping of column → value');
  const defaultsObj = isObj(defaults) ? defaults : {};
  if (columns !== null) {
    for (const [col, value] of Object.entries(defaultsObj)) {
      const decl = columns.find((c) => c.name === col);
      if (!decl) {
        p.add(`${where}.defaults.${col}`, 'is not a declared column');
        continue;
      }
      const parsed = parseDefault(decl.type, value);
      if ('error' in parsed) p.add(`${where}.defaults.${col}`, `${parsed.error} for a ${decl.type} column`);
    }
  }
  if (kind === 'segments' && Object.keys(defaultsObj).length > 0) p.add(`${where}.defaults`, 'segments datasets take no defaults');

  const segmentColumn = str(raw, 'segment_column', where, p, kind === 'segments');
  if (kind === 'features' && segmentColumn !== null) p.add(`${where}.segment_column`, 'only applies to kind: segments');
  if (kind === 'segments' && columns !== null) p.add(`${where}.columns`, 'segments datasets use segment_column, not columns');
  const keepVersions = int(raw, 'keep_versions', where, DEFAULTS.keepVersions, 2, 100, p);

  const checks = parseChecks(raw['checks'], where, p);
  const allowEmptyRaw = raw['allow_empty'];
  if (allowEmptyRaw !== undefined && allowEmptyRaw !== null && typeof allowEmptyRaw !== 'boolean') {
    p.add(`${where}.allow_empty`, `must be true or false, got ${JSON.stringify(allowEmptyRaw)}`);
  }
  const allowEmpty = allowEmptyRaw === true;

  if (name === null || key === null || uri === null) return null;
  const resolvedUri = /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? uri : path.resolve(baseDir, uri);
  return {
    name, kind, key, columns, defaults: defaultsObj, keepVersions, segmentColumn, checks, allowEmpty,
    source: { ...source, uri: resolvedUri }, sync,
  };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function parseSource(src: Obj, where: string, p: Problems): Omit<SourceConfig, 'uri'> {
  checkKeys(src, ['format', 'uri', 'version', 'as_of', 'partition', 'require_success_marker'], where, p);
  const formatRaw = src['format'] ?? 'parquet';
  if (formatRaw !== 'parquet' && formatRaw !== 'delta') p.add(`${where}.format`, `must be parquet or delta, got ${JSON.stringify(formatRaw)}`);
  const format: SourceFormat = formatRaw === 'delta' ? 'delta' : 'parquet';
  const version = src['version'] === undefined || src['version'] === null ? null : int(src, 'version', where, 0, 0, Number.MAX_SAFE_INTEGER, p);
  let asOf: string | null = null;
  const asOfRaw = src['as_of'];
  if (asOfRaw instanceof Date) asOf = asOfRaw.toISOString();
  else if (asOfRaw !== undefined && asOfRaw !== null) {
    if (typeof asOfRaw !== 'string' || !RFC3339.test(asOfRaw) || Number.isNaN(Date.parse(asOfRaw))) p.add(`${where}.as_of`, `must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got ${JSON.stringify(asOfRaw)}`);
    else asOf = asOfRaw;
  }
  if (version !== null && asOf !== null) p.add(where, 'set version or as_of, not both');
  if (format !== 'delta' && (version !== null || asOf !== null)) p.add(where, 'version and as_of (time travel) apply to format: delta only');
  const partitionRaw = src['partition'] ?? 'all';
  if (partitionRaw !== 'all' && partitionRaw !== 'latest') p.add(`${where}.partition`, `must be all or latest, got ${JSON.stringify(partitionRaw)}`);
  if (format === 'delta' && src['partition'] !== undefined) p.add(`${where}.partition`, 'applies to format: parquet only');
  const requireSuccessMarker = bool(src, 'require_success_marker', where, false, p);
  if (format === 'delta' && src['require_success_marker'] !== undefined) p.add(`${where}.require_success_marker`, 'applies to format: parquet only');
  return { format, version, asOf, partition: partitionRaw === 'latest' ? 'latest' : 'all', requireSuccessMarker };
}

function parseS3(root: Obj, p: Problems): MaltConfig['s3'] {
  const raw = section(root, 's3', ['region', 'endpoint', 'force_path_style'], p);
  const endpoint = str(raw, 'endpoint', 's3', p, false);
  if (endpoint !== null && !/^https?:\/\/[^\s/]+/.test(endpoint)) p.add('s3.endpoint', `must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  return { region: str(raw, 'region', 's3', p, false), endpoint, forcePathStyle: bool(raw, 'force_path_style', 's3', false, p) };
}

function parseColumns(raw: unknown, where: string, key: string | null, p: Problems): DatasetConfig['columns'] {
  if (raw === undefined || raw === null) return null;
  if (!isObj(raw)) {
    p.add(`${where}.columns`, 'must be a mapping of column name → type');
    return null;
  }
  const out: { name: string; type: ColumnType }[] = [];
  for (const [name, type] of Object.entries(raw)) {
    if (name === key) p.add(`${where}.columns.${name}`, 'is the key column; do not list it under columns');
    if (!isColumnType(type)) p.add(`${where}.columns.${name}`, `unknown type ${JSON.stringify(type)} (one of: ${COLUMN_TYPES.join(', ')})`);
    else out.push({ name, type });
  }
  if (Object.keys(raw).length === 0) p.add(`${where}.columns`, 'is empty; omit it to serve every column');
  return out;
}

export interface LoadConfigOptions {
  /** Path to the YAML file; default $MALT_CONFIG or ./malt.yaml. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Parsed YAML document to use instead of reading a file (tests, embedded default). */
  document?: unknown;
  baseDir?: string;
}

function readDocument(options: LoadConfigOptions, env: NodeJS.ProcessEnv): { doc: unknown; configPath: string | null } {
  if (options.document !== undefined) return { doc: options.document, configPath: null };
  const configPath = path.resolve(options.path ?? env['MALT_CONFIG'] ?? './malt.yaml');
  if (!existsSync(configPath)) throw new MaltError('CONFIG_INVALID', `config file not found: ${configPath} (set MALT_CONFIG or create malt.yaml; see docs/configuration.md)`);
  try {
    return { doc: parseYaml(readFileSync(configPath, 'utf8')), configPath };
  } catch (err) {
    throw new MaltError('CONFIG_INVALID', `config file ${configPath} is not valid YAML: ${(err as Error).message}`);
  }
}

function parseRedis(root: Obj, env: NodeJS.ProcessEnv, baseDir: string, p: Problems): MaltConfig['redis'] {
  const raw = section(root, 'redis', ['url', 'key_prefix', 'embedded_dir'], p);
  const url = env['REDIS_URL'] || str(raw, 'url', 'redis', p, false);
  const keyPrefix = env['MALT_KEY_PREFIX'] || str(raw, 'key_prefix', 'redis', p, false) || DEFAULTS.keyPrefix;
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) p.add('redis.key_prefix', 'must be 1–64 characters of letters, digits, _ . : -');
  return { url: url ?? null, keyPrefix, embeddedDir: path.resolve(baseDir, str(raw, 'embedded_dir', 'redis', p, false) ?? DEFAULTS.embeddedDir) };
}

/** serving: the file's values with environment overrides (MALT_HTTP_PORT, MALT_GRPC_PORT, MALT_HOST, MALT_ADMIN_TOKEN). */
function parseServing(root: Obj, env: NodeJS.ProcessEnv, p: Problems): MaltConfig['serving'] {
  const serving: Obj = { ...section(root, 'serving', ['host', 'http_port', 'grpc_port', 'request_timeout_ms', 'max_batch_size', 'max_body_bytes', 'version_poll_ms', 'max_pending_reads', 'admin_token'], p) };
  const envNum = (name: string, key: string): void => {
    const v = env[name];
    if (v !== undefined && v !== '') serving[key] = /^\d+$/.test(v) ? Number(v) : v;
  };
  envNum('MALT_HTTP_PORT', 'http_port');
  envNum('MALT_GRPC_PORT', 'grpc_port');
  if (env['MALT_HOST']) serving['host'] = env['MALT_HOST'];
  if (env['MALT_ADMIN_TOKEN']) serving['admin_token'] = env['MALT_ADMIN_TOKEN'];
  return {
    host: str(serving, 'host', 'serving', p, false) ?? DEFAULTS.host,
    httpPort: int(serving, 'http_port', 'serving', DEFAULTS.httpPort, 0, 65535, p),
    grpcPort: int(serving, 'grpc_port', 'serving', DEFAULTS.grpcPort, 0, 65535, p),
    requestTimeoutMs: int(serving, 'request_timeout_ms', 'serving', DEFAULTS.requestTimeoutMs, 1, 60_000, p),
    maxBatchSize: int(serving, 'max_batch_size', 'serving', DEFAULTS.maxBatchSize, 1, 100_000, p),
    maxBodyBytes: int(serving, 'max_body_bytes', 'serving', DEFAULTS.maxBodyBytes, 1024, 64 * 1024 * 1024, p),
    versionPollMs: int(serving, 'version_poll_ms', 'serving', DEFAULTS.versionPollMs, 50, 60_000, p),
    maxPendingReads: int(serving, 'max_pending_reads', 'serving', DEFAULTS.maxPendingReads, 1, 10_000_000, p),
    adminToken: str(serving, 'admin_token', 'serving', p, false),
  };
}

function parseCacheAndLoader(root: Obj, p: Problems): Pick<MaltConfig, 'cache' | 'loader'> {
  const cacheRaw = section(root, 'cache', ['max_bytes', 'negative_ttl_ms'], p);
  const loaderRaw = section(root, 'loader', ['batch_rows', 'max_batches_in_flight', 'lock_ttl_ms', 'reclaim_grace_ms'], p);
  return {
    cache: {
      // 0 disables the cache; there is no unbounded setting.
      maxBytes: int(cacheRaw, 'max_bytes', 'cache', DEFAULTS.cacheMaxBytes, 0, 64 * 1024 ** 3, p),
      negativeTtlMs: int(cacheRaw, 'negative_ttl_ms', 'cache', DEFAULTS.cacheNegativeTtlMs, 0, 3_600_000, p),
    },
    loader: {
      batchRows: int(loaderRaw, 'batch_rows', 'loader', DEFAULTS.loaderBatchRows, 1, 100_000, p),
      maxBatchesInFlight: int(loaderRaw, 'max_batches_in_flight', 'loader', DEFAULTS.loaderMaxBatchesInFlight, 1, 64, p),
      lockTtlMs: int(loaderRaw, 'lock_ttl_ms', 'loader', DEFAULTS.loaderLockTtlMs, 1000, 3_600_000, p),
      reclaimGraceMs: int(loaderRaw, 'reclaim_grace_ms', 'loader', DEFAULTS.loaderReclaimGraceMs, 0, 86_400_000, p),
    },
  };
}

function parseDatasets(root: Obj, baseDir: string, p: Problems): DatasetConfig[] {
  const raw = root['datasets'];
  if (!Array.isArray(raw) || raw.length === 0) {
    p.add('datasets', 'must be a non-empty list');
    return [];
  }
  const datasets: DatasetConfig[] = [];
  raw.forEach((d, i) => {
    const parsed = parseDataset(d, i, baseDir, p);
    if (parsed) datasets.push(parsed);
  });
  const seen = new Set<string>();
  for (const d of raw) {
    const name = isObj(d) ? d['name'] : undefined;
    if (typeof name !== 'string') continue;
    if (seen.has(name)) p.add('datasets', `duplicate dataset name "${name}"`);
    seen.add(name);
  }
  return datasets;
}

/** Parses and validates the whole config; throws CONFIG_INVALID listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): MaltConfig {
  const env = options.env ?? process.env;
  const p = new Problems();
  const { doc, configPath } = readDocument(options, env);
  const baseDir = options.baseDir ?? (configPath ? path.dirname(configPath) : process.cwd());
  const root: Obj = isObj(doc) ? doc : {};
  if (!isObj(doc)) p.add('(root)', 'must be a mapping with a datasets list');
  checkKeys(root, ['redis', 'serving', 'cache', 'loader', 's3', 'datasets'], '(root)', p);
  const config: MaltConfig = {
    configPath,
    redis: parseRedis(root, env, baseDir, p),
    serving: parseServing(root, env, p),
    ...parseCacheAndLoader(root, p),
    s3: parseS3(root, p),
    datasets: parseDatasets(root, baseDir, p),
  };
  if (p.list.length > 0) {
    throw new MaltError('CONFIG_INVALID', `invalid configuration${configPath ? ` in ${configPath}` : ''} (${p.list.length} problem${p.list.length > 1 ? 's' : ''}):\n  - ${p.list.join('\n  - ')}`, p.list);
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function findDataset(config: MaltConfig, name: string): DatasetConfig | undefined {
  return config.datasets.find((d) => d.name === name);
}

export type { TypedValue };
