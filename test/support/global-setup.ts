import { execFileSync } from 'node:child_process';
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
  redis = await startTestRedis();
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis?.stop();
  };
}
