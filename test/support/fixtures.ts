/**
 * Test fixtures: temporary lake tables, configs with a unique key prefix per test, and a
 * serving app on ephemeral ports against the suite's redis-server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { startServing, type ServingApp } from '../../src/app.js';
import { loadConfig, type MaltConfig } from '../../src/config.js';
import { loadDataset, type LoadReport } from '../../src/loaders/load-dataset.js';
import { writeParquet, type SampleColumn } from '../../src/sample/write-parquet.js';
import { startTestRedis, type TestRedis } from './redis-server.js';

export const redisUrl = (): string => inject('redisUrl');

export function tmpDir(): string {
  return mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-test-'));
}

export function uniquePrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** Serving apps a test file starts; every one is closed after the file's tests. */
export function appsClosedAfterAll(): ServingApp[] {
  const apps: ServingApp[] = [];
  afterAll(async () => {
    for (const a of apps) await a.close();
  });
  return apps;
}

/** A redis-server of the test file's own, started before its tests and stopped after them. */
export function ownRedis(): { readonly url: string } {
  let redis: TestRedis | undefined;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get url(): string {
      if (!redis) throw new Error('ownRedis() is only usable inside tests');
      return redis.url;
    },
  };
}

export function makeConfig(doc: Record<string, unknown>, opts: { prefix?: string; url?: string } = {}): MaltConfig {
  const redis = { url: opts.url ?? redisUrl(), key_prefix: opts.prefix ?? uniquePrefix(), ...(doc['redis'] as object | undefined) };
  const serving = { http_port: 0, grpc_port: 0, ...(doc['serving'] as object | undefined) };
  return loadConfig({ document: { ...doc, redis, serving }, env: {}, baseDir: os.tmpdir() });
}

export function newRedis(config: MaltConfig): Redis {
  return new Redis(config.redis.url as string, { lazyConnect: false });
}

export async function load(config: MaltConfig, name: string, force = false): Promise<LoadReport> {
  const redis = newRedis(config);
  try {
    const d = config.datasets.find((x) => x.name === name);
    if (!d) throw new Error(`no dataset ${name}`);
    return await loadDataset(redis, config, d, { force });
  } finally {
    redis.disconnect();
  }
}

export async function serve(config: MaltConfig): Promise<ServingApp> {
  return startServing(config, { drainMs: 500 });
}

export interface PlayerRow {
  id: string | number;
  ltv: number | null;
  level: number | bigint | null;
  country: string | null;
  is_payer: boolean | null;
  last_login: Date | null;
  tags: string[] | null;
}

/** Writes a features table with every column type; integer keys when ids are numbers. */
export function writePlayers(file: string, rows: readonly PlayerRow[], opts: { rowGroupSize?: number } = {}): void {
  const intKeys = typeof rows[0]?.id === 'number';
  const cols: SampleColumn[] = [
    { name: 'player_id', type: intKeys ? 'int64' : 'string', data: rows.map((r) => r.id) },
    { name: 'ltv', type: 'double', data: rows.map((r) => r.ltv) },
    { name: 'level', type: 'int64', data: rows.map((r) => r.level) },
    { name: 'country', type: 'string', data: rows.map((r) => r.country) },
    { name: 'is_payer', type: 'bool', data: rows.map((r) => r.is_payer) },
    { name: 'last_login', type: 'timestamp_ms', data: rows.map((r) => r.last_login) },
    { name: 'tags', type: 'string_list', data: rows.map((r) => r.tags) },
  ];
  writeParquet(file, cols, opts);
}

export const PLAYER_COLUMNS = { ltv: 'double', level: 'int64', country: 'string', is_payer: 'bool', last_login: 'timestamp', tags: 'string_list' };

export function featuresDataset(name: string, uri: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, kind: 'features', source: { format: 'parquet', uri }, key: 'player_id', columns: PLAYER_COLUMNS, ...extra };
}

/** A simple table whose every value encodes its generation, for atomicity checks. */
export function writeGeneration(file: string, players: number, generation: number): void {
  const ids = Array.from({ length: players }, (_, i) => `g${i}`);
  writeParquet(file, [
    { name: 'player_id', type: 'string', data: ids, nullable: false },
    { name: 'gen', type: 'int64', data: ids.map(() => generation) },
    { name: 'label', type: 'string', data: ids.map((id) => `${id}@${generation}`) },
  ], { rowGroupSize: 2000 });
}
