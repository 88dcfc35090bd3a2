import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, loadConfig } from '../src/config.js';
import { MaltError } from '../src/errors.js';

const ds = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'player_features', kind: 'features', source: { format: 'parquet', uri: './lake/pf/' }, key: 'player_id', ...extra,
});

function problems(doc: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig({ document: doc, env });
  } catch (err) {
    expect(err).toBeInstanceOf(MaltError);
    expect((err as MaltError).code).toBe('CONFIG_INVALID');
    return [...(err as MaltError).details];
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('accepts the documented shape, applies named defaults and freezes the result', () => {
    const cfg = loadConfig({
      document: {
        redis: { url: 'redis://127.0.0.1:6379' },
        datasets: [
          ds({ columns: { ltv: 'double', level: 'int64', country: 'string', is_payer: 'bool', last_login: 'timestamp', tags: 'string_list' }, defaults: { ltv: 0 }, keep_versions: 3 }),
          { name: 'player_segments', kind: 'segments', source: { format: 'parquet', uri: './lake/ps/' }, key: 'player_id', segment_column: 'segment' },
        ],
      },
      env: {}, baseDir: '/data',
    });
    expect(cfg.datasets.map((d) => d.name)).toEqual(['player_features', 'player_segments']);
    expect(cfg.datasets[0]!.source.uri).toBe('/data/lake/pf');
    expect(cfg.datasets[0]!.columns?.map((c) => c.type)).toEqual(['double', 'int64', 'string', 'bool', 'timestamp', 'string_list']);
    expect(cfg.serving.requestTimeoutMs).toBe(DEFAULTS.requestTimeoutMs);
    expect(cfg.serving.maxBatchSize).toBe(1000);
    expect(cfg.cache.maxBytes).toBe(DEFAULTS.cacheMaxBytes);
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.datasets[0])).toBe(true);
  });

  it('reports every problem at once, not just the first', () => {
    const list = problems({
      bogus: 1,
      serving: { http_port: 'eighty', max_batch_size: 0 },
      datasets: [
        ds({ columns: { ltv: 'float128' }, defaults: { ltv: 'lots' }, extra_key: true }),
        ds(),
        { name: 'Bad Name', source: { uri: 'x' }, kind: 'segments' },
      ],
    });
    const text = list.join('\n');
    expect(text).toMatch(/\(root\)\.bogus: unknown key/);
    expect(text).toMatch(/serving\.http_port/);
    expect(text).toMatch(/serving\.max_batch_size/);
    expect(text).toMatch(/datasets\[0\]\.columns\.ltv: unknown type "float128"/);
    expect(text).toMatch(/datasets\[0\]\.extra_key: unknown key/);
    expect(text).toMatch(/duplicate dataset name "player_features"/);
    expect(text).toMatch(/datasets\[2\]\.name/);
    expect(text).toMatch(/datasets\[2\]\.key: is required/);
    expect(text).toMatch(/datasets\[2\]\.segment_column: is required/);
    expect(list.length).toBeGreaterThanOrEqual(9);
  });

  it('type-checks defaults against declared columns', () => {
    const text = problems({ datasets: [ds({ columns: { level: 'int64', seen: 'timestamp' }, defaults: { level: 1.5, seen: 'not a date', nope: 1 } })] }).join('\n');
    expect(text).toMatch(/defaults\.level: expected an integer/);
    expect(text).toMatch(/defaults\.seen: expected an ISO-8601 timestamp/);
    expect(text).toMatch(/defaults\.nope: is not a declared column/);
  });

  it('refuses unbounded or nonsensical limits', () => {
    const text = problems({ cache: { max_bytes: -1 }, loader: { max_batches_in_flight: 0 }, datasets: [ds({ keep_versions: 1 })] }).join('\n');
    expect(text).toMatch(/cache\.max_bytes/);
    expect(text).toMatch(/loader\.max_batches_in_flight/);
    expect(text).toMatch(/keep_versions/);
  });

  it('lets environment variables override server settings', () => {
    const cfg = loadConfig({
      document: { serving: { http_port: 1 }, datasets: [ds()] },
      env: { REDIS_URL: 'redis://127.0.0.1:6380', MALT_HTTP_PORT: '9090', MALT_GRPC_PORT: '9091', MALT_HOST: '0.0.0.0' },
    });
    expect(cfg.redis.url).toBe('redis://127.0.0.1:6380');
    expect(cfg.serving.httpPort).toBe(9090);
    expect(cfg.serving.grpcPort).toBe(9091);
    expect(cfg.serving.host).toBe('0.0.0.0');
  });

  it('reads the YAML file named by MALT_CONFIG and resolves paths against its directory', () => {
    const dir = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-cfg-'));
    const file = path.join(dir, 'conf.yaml');
    writeFileSync(file, 'datasets:\n  - name: pf\n    source: { format: parquet, uri: ./lake/pf/ }\n    key: player_id\n');
    const cfg = loadConfig({ env: { MALT_CONFIG: file } });
    expect(cfg.configPath).toBe(file);
    expect(cfg.datasets[0]!.source.uri).toBe(path.join(dir, 'lake/pf'));
    expect(cfg.redis.url).toBeNull();
  });

  it('names a missing config file and invalid YAML clearly', () => {
    expect(() => loadConfig({ path: '/nonexistent/malt.yaml', env: {} })).toThrow(/config file not found: \/nonexistent\/malt.yaml/);
    const dir = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-cfg-'));
    writeFileSync(path.join(dir, 'bad.yaml'), 'datasets: [\n');
    expect(() => loadConfig({ path: path.join(dir, 'bad.yaml'), env: {} })).toThrow(/not valid YAML/);
  });
});

describe('config: the lake keys', () => {
  it('parses sources, sync, s3 and the quality checks with their defaults', () => {
    const cfg = loadConfig({
      document: {
        s3: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000', force_path_style: true },
        datasets: [
          ds({ source: { format: 'delta', uri: 's3://lake/players', as_of: '2026-01-31T12:00:00Z' }, sync: { interval: '30s' }, checks: { max_null_fraction: { ltv: 0.2 }, allow_schema_change: true } }),
          ds({ name: 'daily', source: { format: 'parquet', uri: './lake/daily', partition: 'latest', require_success_marker: true }, checks: { max_null_fraction: 0.5 } }),
        ],
      },
      env: {}, baseDir: '/data',
    });
    const [delta, daily] = cfg.datasets;
    expect(cfg.s3).toEqual({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    expect(delta!.source).toEqual({ format: 'delta', uri: 's3://lake/players', version: null, asOf: '2026-01-31T12:00:00Z', partition: 'all', requireSuccessMarker: false });
    expect(delta!.sync).toEqual({ intervalMs: 30_000, jitter: DEFAULTS.syncJitter });
    expect(delta!.checks.maxNullFraction).toEqual({ default: null, columns: { ltv: 0.2 } });
    expect(delta!.checks.allowSchemaChange).toBe(true);
    expect(daily!.source).toMatchObject({ format: 'parquet', uri: '/data/lake/daily', partition: 'latest', requireSuccessMarker: true });
    expect(daily!.sync.intervalMs).toBe(DEFAULTS.syncIntervalMs);
    expect(daily!.checks.maxNullFraction).toEqual({ default: 0.5, columns: {} });
    expect(cfg.loader.batchRows).toBe(DEFAULTS.loaderBatchRows);
  });

  it('reports bad lake keys with their paths, together', () => {
    const text = problems({
      s3: { endpoint: 'ftp://x', bucket: 'b' },
      datasets: [
        ds({ source: { format: 'iceberg', uri: 'x' } }),
        ds({ name: 'b', source: { format: 'parquet', uri: 'x', version: 3 }, sync: { interval: '5 parsecs' } }),
        ds({ name: 'c', source: { format: 'delta', uri: 'x', version: 1, as_of: 'yesterday', partition: 'latest' }, checks: { max_null_fraction: 2 } }),
      ],
    }).join('\n');
    expect(text).toMatch(/s3\.endpoint: must be an http\(s\) URL/);
    expect(text).toMatch(/s3\.bucket: unknown key \(allowed: region, endpoint, force_path_style\)/);
    expect(text).toMatch(/datasets\[0\]\.source\.format: must be parquet or delta, got "iceberg"/);
    expect(text).toMatch(/datasets\[1\]\.source: version and as_of \(time travel\) apply to format: delta only/);
    expect(text).toMatch(/datasets\[1\]\.sync\.interval: must be a duration/);
    expect(text).toMatch(/datasets\[2\]\.source\.as_of: must be an RFC 3339 time/);
    expect(text).toMatch(/datasets\[2\]\.source\.partition: applies to format: parquet only/);
    expect(text).toMatch(/datasets\[2\]\.checks\.max_null_fraction/);
  });
});
