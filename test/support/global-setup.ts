import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startTestRedis, type TestRedis } from './redis-server.js';

let redis: TestRedis | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Cross-process tests run the built CLI (bin/malt.js → dist/); build once up front. tsc still
  // emits when there are type errors; those fail the separate typecheck step of scripts/test.sh,
  // so here they only warn and the tests run against what was emitted.
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  } catch (err) {
    if (!existsSync(path.join(import.meta.dirname, '../../dist/cli.js'))) throw err;
    console.warn('global-setup: tsc reported type errors (see above); running the tests against the emitted dist/');
  }
  // Every temporary directory of the run lives under one root, removed at the end.
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'malt-test-run-'));
  process.env['MALT_TEST_TMP'] = tmpRoot;
  redis = await startTestRedis();
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis?.stop();
    rmSync(tmpRoot, { recursive: true, force: true });
  };
}
