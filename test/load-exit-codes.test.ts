/**
 * The exit codes of `malt load` (and `malt sync --once`), as Airflow or cron sees them
 * (docs/operations.md#exit-codes): 0 published or unchanged, 1 other failure (retry),
 * 2 config or usage error, 3 refused by the data, 130 interrupted (test/cli.test.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { ERROR_CATALOG, type ErrorCode, MaltError } from '../src/errors.js';
import { KeyLayout } from '../src/keys.js';
import { loadErrorExitCode } from '../src/cli/cli-support.js';
import { loadExitCode } from '../src/cli/load-command.js';
import { freePort } from './support/redis-server.js';
import { featuresDataset, redisUrl, tmpDir, uniquePrefix, writePlayers, type PlayerRow } from './support/fixtures.js';
import { runMalt as malt } from './support/cli-runner.js';



const row = (id: string, ltv: number): PlayerRow => ({ id, ltv, level: 1, country: 'US', is_payer: true, last_login: null, tags: null });

function setup(datasets: Record<string, unknown>[], extra: Record<string, unknown> = {}): { file: string; env: NodeJS.ProcessEnv; prefix: string } {
  const dir = tmpDir();
  const file = path.join(dir, 'malt.yaml');
  writeFileSync(file, stringify({ ...extra, datasets }));
  const prefix = uniquePrefix();
  return { file, prefix, env: { REDIS_URL: redisUrl(), MALT_KEY_PREFIX: prefix } };
}

function goodTable(): string {
  const file = path.join(tmpDir(), 'good.parquet');
  writePlayers(file, [row('a', 1), row('b', 2)]);
  return file;
}

describe('malt load exit codes', { timeout: 120_000 }, () => {
  it('0 when published and 0 when skipped as unchanged', async () => {
    const { file, env } = setup([featuresDataset('ok', goodTable())]);
    const first = await malt(['load', '-c', file], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('ok: published version 1');
    const again = await malt(['load', '-c', file], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('ok: source unchanged');
  });

  it('2 for an invalid config and for an undeclared dataset', async () => {
    const bad = setup([{ name: 'x', source: { uri: 'x' } }]);
    const named = setup([featuresDataset('known', goodTable())]);
    const [invalid, unknown] = await Promise.all([
      malt(['load', '-c', bad.file], bad.env),
      malt(['load', 'nope', '-c', named.file], named.env),
    ]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('error CONFIG_INVALID');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error DATASET_NOT_FOUND');
  });

  it('3 when the data is refused: schema, a check, an unreadable or an empty source', async () => {
    const dir = tmpDir();
    const garbage = path.join(dir, 'garbage');
    mkdirSync(garbage);
    writeFileSync(path.join(garbage, 'x.parquet'), 'not parquet at all');
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    const cases = [
      { name: 'schema', ds: featuresDataset('schema', goodTable(), { columns: { ltv: 'double', missing_col: 'string' } }), code: 'SCHEMA_MISMATCH' },
      { name: 'check', ds: featuresDataset('check', goodTable(), { checks: { min_rows: 10 } }), code: 'CHECK_FAILED' },
      { name: 'unreadable', ds: featuresDataset('unreadable', garbage), code: 'SOURCE_' },
      { name: 'empty', ds: featuresDataset('empty', empty), code: 'SOURCE_' },
    ];
    const runs = await Promise.all(cases.map((c) => {
      const { file, env } = setup([c.ds]);
      return malt(['load', '-c', file], env);
    }));
    runs.forEach((r, i) => {
      const c = cases[i]!;
      expect({ dataset: c.name, code: r.code }, r.stderr).toEqual({ dataset: c.name, code: 3 });
      expect(r.stderr).toContain(`${c.name}: load refused — error ${c.code}`);
      expect(r.stderr).toContain('the served version is unchanged');
    });
  });

  it('1 when Redis is unreachable or another loader holds the lock (worth a retry)', async () => {
    const down = setup([featuresDataset('down', goodTable())]);
    const locked = setup([featuresDataset('locked', goodTable())]);
    const redis = new Redis(redisUrl());
    try {
      await redis.set(new KeyLayout(locked.prefix).lock('locked'), 'elsewhere|4242|abc', 'PX', 30_000);
      const [unreachable, busy] = await Promise.all([
        malt(['load', '-c', down.file], { ...down.env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` }),
        malt(['load', '-c', locked.file], locked.env),
      ]);
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toContain('error STORE_UNAVAILABLE');
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain('locked: load failed — error LOAD_IN_PROGRESS');
    } finally {
      redis.disconnect();
    }
  });

  it('several datasets: a failure (1) outranks a refusal (3), which outranks a success (0)', async () => {
    const refusedAndOk = setup([featuresDataset('fine', goodTable()), featuresDataset('refused', goodTable(), { checks: { min_rows: 10 } })]);
    const refusedAndBusy = setup([featuresDataset('busy', goodTable()), featuresDataset('refused', goodTable(), { checks: { min_rows: 10 } })]);
    const redis = new Redis(redisUrl());
    try {
      await redis.set(new KeyLayout(refusedAndBusy.prefix).lock('busy'), 'elsewhere|4242|abc', 'PX', 30_000);
      const [a, b] = await Promise.all([malt(['load', '-c', refusedAndOk.file], refusedAndOk.env), malt(['load', '-c', refusedAndBusy.file], refusedAndBusy.env)]);
      expect(a.code, a.stderr).toBe(3);
      expect(a.stdout).toContain('fine: published version 1');
      expect(b.code, b.stderr).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('the rule in code: every catalog code maps to one exit code; a run outcome picks the worst', () => {
    const byCode = Object.fromEntries((Object.keys(ERROR_CATALOG) as ErrorCode[]).map((c) => [c, loadErrorExitCode(new MaltError(c, 'x'))]));
    expect(byCode).toMatchObject({
      CONFIG_INVALID: 2, DATASET_NOT_FOUND: 2, INVALID_ARGUMENT: 2,
      CHECK_FAILED: 3, SCHEMA_MISMATCH: 3, SOURCE_NOT_FOUND: 3, SOURCE_UNREADABLE: 3, SOURCE_NOT_READY: 3,
      DELTA_UNSUPPORTED: 3, DELTA_LOG_INVALID: 3, DELETION_VECTOR_INVALID: 3,
      SOURCE_ACCESS_DENIED: 3, SOURCE_LAYOUT_INVALID: 3,
      STORE_UNAVAILABLE: 1, SOURCE_UNAVAILABLE: 1, LOAD_IN_PROGRESS: 1, REDIS_SERVER_MISSING: 1, INTERNAL: 1,
      LOAD_INTERRUPTED: 130,
    });
    const r = (status: 'published' | 'skipped' | 'refused' | 'failed' | 'interrupted') => ({ dataset: 'd', status });
    expect(loadExitCode({ ok: true, interrupted: false, results: [r('published'), r('skipped')] })).toBe(0);
    expect(loadExitCode({ ok: false, interrupted: false, results: [r('published'), r('refused')] })).toBe(3);
    expect(loadExitCode({ ok: false, interrupted: false, results: [r('failed'), r('refused')] })).toBe(1);
    expect(loadExitCode({ ok: false, interrupted: true, results: [r('failed')] })).toBe(130);
  });
});

describe('malt sync --once exit codes', { timeout: 120_000 }, () => {
  it('0 when loaded or unchanged, 3 when refused, 2 for an undeclared dataset', async () => {
    const ok = setup([featuresDataset('once_ok', goodTable())]);
    const refused = setup([featuresDataset('once_bad', goodTable(), { checks: { min_rows: 10 } })]);
    const [first, bad, unknown] = await Promise.all([
      malt(['sync', '--once', '-c', ok.file], ok.env),
      malt(['sync', '--once', '-c', refused.file], refused.env),
      malt(['sync', 'nope', '--once', '-c', ok.file], ok.env),
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/info once_ok: published version 1 rows=2/);
    expect(bad.code, bad.stderr).toBe(3);
    expect(bad.stderr).toMatch(/error once_bad: load failed \(1 in a row\); the served version is unchanged code="CHECK_FAILED"/);
    expect(unknown.code).toBe(2);
    const again = await malt(['sync', '--once', '-c', ok.file], ok.env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('once_ok: source unchanged; serving version 1');
  });
});
