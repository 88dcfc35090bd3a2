/**
 * The CLI imports only the module of the command it runs (src/cli.ts): `malt load` does not
 * load the serving stack (fastify, protobufjs, prom-client), which costs ~0.6 CPU-s per run;
 * `malt --help` still lists every command; `malt serve` does not load the loader (hyparquet, the
 * S3 SDK), which `malt demo` imports only when it runs.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALT_BIN } from './support/cli-runner.js';
import { tmpDir } from './support/fixtures.js';

/** The npm packages a `malt …` process loaded (CommonJS ones, via require's cache), printed at exit. */
function packagesLoaded(args: string[]): { packages: string[]; stdout: string } {
  const probe = path.join(tmpDir(), 'probe.mjs');
  writeFileSync(probe, `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
process.on('exit', () => {
  const names = Object.keys(require('node:module')._cache).map((k) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(k)?.[1]).filter(Boolean);
  process.stderr.write('PACKAGES ' + [...new Set(names)].sort().join(',') + '\\n');
});
`);
  const r = spawnSync(process.execPath, ['--import', probe, MALT_BIN, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return { packages: (/PACKAGES (.*)/.exec(r.stderr)?.[1] ?? '').split(','), stdout: r.stdout };
}

describe('lazy CLI imports', () => {
  it('malt load --help loads neither fastify nor the serving path; malt --help still lists every command', () => {
    const load = packagesLoaded(['load', '--help']);
    expect(load.stdout).toContain('Usage: malt load');
    expect(load.packages).toContain('commander');
    for (const p of ['fastify', 'protobufjs', 'prom-client', '@fastify/swagger', '@grpc/grpc-js']) expect(load.packages).not.toContain(p);
    // The S3 SDK loads on a load's first s3:// request (sources/lazy-s3-store.ts), not before.
    expect(load.packages.filter((p) => p.startsWith('@aws-sdk/'))).toEqual([]);
    const all = packagesLoaded(['--help']);
    for (const c of ['serve', 'demo', 'load', 'sync', 'consume', 'versions', 'rollback', 'get', 'check-config', 'sample']) expect(all.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(all.packages).toContain('fastify');
  }, 30_000);

  it('malt serve loads neither the loader nor the S3 SDK (a smaller heap on the read path: BENCHMARKS.md, gRPC tails)', () => {
    const serve = packagesLoaded(['serve', '--help']);
    expect(serve.stdout).toContain('Usage: malt serve');
    expect(serve.packages).toContain('fastify');
    expect(serve.packages.filter((p) => p.startsWith('@aws-sdk/') || p.startsWith('@smithy/'))).toEqual([]);
  }, 30_000);
});
