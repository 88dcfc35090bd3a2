/**
 * Loading the config: read the YAML file (MALT_CONFIG, default ./malt.yaml), overlay the
 * environment variables, parse with the schema, add the rules that span several keys, and report
 * every problem at once with its YAML path (CONFIG_INVALID). The result is frozen.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type * as z from 'zod';
import { isColumnType, parseDefault } from '../column-types.js';
import { MaltError } from '../errors.js';
import { buildConfig } from './build-config.js';
import { configSchema } from './schema.js';
import type { DatasetConfig, MaltConfig } from './types.js';

export interface LoadConfigOptions {
  /** Path to the YAML file; default $MALT_CONFIG or ./malt.yaml. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Parsed YAML document to use instead of reading a file (tests, embedded default). */
  document?: unknown;
  baseDir?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

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

/** Environment variables override server settings (an empty variable is ignored). */
const ENV_OVERRIDES: readonly (readonly [string, string, string])[] = [
  ['REDIS_URL', 'redis', 'url'],
  ['REDIS_CLUSTER', 'redis', 'cluster'],
  ['MALT_KEY_PREFIX', 'redis', 'key_prefix'],
  ['MALT_HOST', 'serving', 'host'],
  ['MALT_HTTP_PORT', 'serving', 'http_port'],
  ['MALT_GRPC_PORT', 'serving', 'grpc_port'],
  ['MALT_GRPC_FAST_PATH', 'serving', 'grpc_fast_path'],
  ['MALT_ADMIN_TOKEN', 'serving', 'admin_token'],
  ['MALT_LOG_LEVEL', 'log', 'level'],
  ['MALT_LOG_FORMAT', 'log', 'format'],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'telemetry', 'otlp_endpoint'],
  ['OTEL_SERVICE_NAME', 'telemetry', 'service_name'],
];

/** MALT_API_KEYS (a JSON list, replacing auth.keys) and MALT_AUTH (`none` or `keys`); bad JSON is a problem. */
function withAuthEnv(doc: Obj, env: NodeJS.ProcessEnv, problems: string[]): Obj {
  const mode = env['MALT_AUTH'];
  const keys = env['MALT_API_KEYS'];
  if ((mode === undefined || mode === '') && (keys === undefined || keys === '')) return doc;
  const current = doc['auth'] === 'none' ? { mode: 'none' } : doc['auth'];
  const auth: Obj = { ...(isObj(current) ? current : {}) };
  if (mode !== undefined && mode !== '') auth['mode'] = mode;
  if (keys !== undefined && keys !== '') {
    // Keys from the environment turn auth on, whatever the file says (unless MALT_AUTH says otherwise).
    if (mode === undefined || mode === '') auth['mode'] = 'keys';
    try {
      auth['keys'] = JSON.parse(keys) as unknown;
    } catch (err) {
      problems.push(`MALT_API_KEYS: is not valid JSON (a list of {"name", "hash", "scopes"}): ${(err as Error).message}`);
    }
  }
  return { ...doc, auth };
}

/** Rules across the auth and tls keys. */
function securityChecks(doc: Obj): string[] {
  const out: string[] = [];
  const auth = doc['auth'];
  if (isObj(auth) && Array.isArray(auth['keys'])) {
    const keys = auth['keys'] as unknown[];
    if (auth['mode'] === 'none' && keys.length > 0) out.push('auth: mode none with keys listed; remove the keys or the mode');
    const seen = new Set<unknown>();
    keys.forEach((k, i) => {
      const name = isObj(k) ? k['name'] : undefined;
      if (typeof name === 'string' && seen.has(name)) out.push(`auth.keys[${i}].name: ${JSON.stringify(name)} is used by another key`);
      seen.add(name);
    });
  }
  const tls = doc['tls'];
  if (isObj(tls)) {
    const set = (k: string): boolean => tls[k] !== undefined && tls[k] !== null;
    if (set('cert') !== set('key')) out.push('tls: cert and key go together; set both or neither');
    if (tls['require_client_cert'] === true && !set('client_ca')) out.push('tls.require_client_cert: needs tls.client_ca to verify client certificates against');
    if (!set('cert') && (set('client_ca') || tls['require_client_cert'] === true)) out.push('tls: client_ca and require_client_cert need cert and key');
  }
  return out;
}

function withEnv(doc: Obj, env: NodeJS.ProcessEnv): Obj {
  const out: Obj = { ...doc };
  for (const [name, sec, key] of ENV_OVERRIDES) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const current = out[sec];
    out[sec] = { ...(isObj(current) ? current : {}), [key]: v };
  }
  return out;
}

function where(p: readonly PropertyKey[]): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s || '(root)';
}

function issueLines(issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) out.push(`${iss.path.length === 0 ? `(root).${key}` : where([...iss.path, key])}: ${iss.message}`);
    } else if (iss.code === 'invalid_union' && iss.errors.length > 0 && iss.message === 'Invalid input') {
      out.push(...issueLines(iss.errors.flat()));
    } else {
      out.push(`${where(iss.path)}: ${iss.message}`);
    }
  }
  return out;
}

/** Rules that span several keys, checked on the raw document so they are reported even when other keys are wrong. */
function crossChecks(doc: Obj): string[] {
  const out: string[] = [];
  const redis = isObj(doc['redis']) ? doc['redis'] : {};
  const cluster = redis['cluster'];
  if (redis['url'] && (Array.isArray(cluster) ? cluster.length > 0 : Boolean(cluster))) out.push('redis: url and cluster are exclusive; set one');
  const datasets = Array.isArray(doc['datasets']) ? doc['datasets'] : [];
  const seen = new Set<string>();
  datasets.forEach((d: unknown, i: number) => {
    if (!isObj(d)) return;
    const at = `datasets[${i}]`;
    const name = d['name'];
    if (typeof name === 'string') {
      if (seen.has(name)) out.push(`datasets: duplicate dataset name "${name}"`);
      seen.add(name);
    }
    const kind = d['kind'] ?? 'features';
    const columns = isObj(d['columns']) ? d['columns'] : null;
    const defaults = isObj(d['defaults']) ? d['defaults'] : {};
    if (columns) {
      if (Object.keys(columns).length === 0) out.push(`${at}.columns: is empty; omit it to serve every column`);
      if (typeof d['key'] === 'string' && d['key'] in columns) out.push(`${at}.columns.${d['key']}: is the key column; do not list it under columns`);
      for (const [col, value] of Object.entries(defaults)) {
        const type = columns[col];
        if (type === undefined) out.push(`${at}.defaults.${col}: is not a declared column`);
        else if (isColumnType(type)) {
          const parsed = parseDefault(type, value);
          if ('error' in parsed) out.push(`${at}.defaults.${col}: ${parsed.error} for a ${type} column`);
        }
      }
    }
    const segmentColumn = d['segment_column'];
    if (kind === 'segments') {
      if (Object.keys(defaults).length > 0) out.push(`${at}.defaults: segments datasets take no defaults`);
      if (segmentColumn === undefined || segmentColumn === null) out.push(`${at}.segment_column: is required`);
      if (columns) out.push(`${at}.columns: segments datasets use segment_column, not columns`);
    } else if (segmentColumn !== undefined && segmentColumn !== null) {
      out.push(`${at}.segment_column: only applies to kind: segments`);
    }
    if (kind !== 'segments' && d['segment_events_stream'] !== undefined && d['segment_events_stream'] !== null) out.push(`${at}.segment_events_stream: only applies to kind: segments`);
    const src = d['source'];
    if (d['source'] === undefined || d['source'] === null) out.push(`${at}.source: is required: { format: parquet | delta, uri: <path, glob or s3:// uri> }`);
    if (isObj(src)) {
      const format = src['format'] ?? 'parquet';
      const set = (k: string): boolean => src[k] !== undefined && src[k] !== null;
      if (set('version') && set('as_of')) out.push(`${at}.source: set version or as_of, not both`);
      if (format !== 'delta' && (set('version') || set('as_of'))) out.push(`${at}.source: version and as_of (time travel) apply to format: delta only`);
      if (format === 'delta' && set('partition')) out.push(`${at}.source.partition: applies to format: parquet only`);
      if (format === 'delta' && set('require_success_marker')) out.push(`${at}.source.require_success_marker: applies to format: parquet only`);
    }
  });
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Parses and validates the whole config; throws CONFIG_INVALID listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): MaltConfig {
  const env = options.env ?? process.env;
  const { doc, configPath } = readDocument(options, env);
  const baseDir = options.baseDir ?? (configPath ? path.dirname(configPath) : process.cwd());
  const problems: string[] = [];
  if (!isObj(doc)) problems.push('(root): must be a mapping with a datasets list');
  const raw = withAuthEnv(withEnv(isObj(doc) ? doc : {}, env), env, problems);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) problems.push(...issueLines(parsed.error.issues));
  problems.push(...crossChecks(raw), ...securityChecks(raw));
  const unique = [...new Set(problems)];
  if (unique.length > 0 || !parsed.success) {
    throw new MaltError('CONFIG_INVALID', `invalid configuration${configPath ? ` in ${configPath}` : ''} (${unique.length} problem${unique.length > 1 ? 's' : ''}):\n  - ${unique.join('\n  - ')}`, unique);
  }
  return deepFreeze(buildConfig(parsed.data, configPath, baseDir));
}

export function findDataset(config: MaltConfig, name: string): DatasetConfig | undefined {
  return config.datasets.find((d) => d.name === name);
}
