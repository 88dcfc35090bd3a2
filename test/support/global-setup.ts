import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  // Cross-process tests run the built CLI (bin/malt.js → dist/); build once up front.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
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
