/**
 * Checks what the bench needs before starting anything, says how to install what is missing, and
 * decides which load generators to use. Required: Node >= 20, a built dist/ (npm run build),
 * redis-server. Optional (full mode): h2load (gRPC generator; else the node:http2 one), wrk (HTTP
 * generator cross-check), redis-benchmark (its workload is skipped, and recorded as skipped).
 * taskset (util-linux) pins servers and generators to different cores.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { commandExists } from './processes.mjs';

const INSTALL = {
  'redis-server': 'apt-get install -y redis-server',
  'redis-benchmark': 'apt-get install -y redis-tools',
  h2load: 'apt-get install -y nghttp2-client',
  wrk: 'apt-get install -y wrk',
  taskset: 'apt-get install -y util-linux',
};

function version(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim())?.trim() ?? 'unknown';
}

export function preflight({ opts, workloads, root, log }) {
  const fatal = [];
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) fatal.push(`Node.js >= 20 is required (found ${process.versions.node})`);
  if (!existsSync(path.join(root, 'dist', 'app.js'))) fatal.push('malt is not built: run `npm run build` first (the bench imports dist/)');
  if (!commandExists('redis-server')) fatal.push(`redis-server is missing: ${INSTALL['redis-server']} (as root)`);

  const optional = opts.quick ? ['redis-benchmark'] : ['h2load', 'wrk', 'redis-benchmark'];
  let missing = optional.filter((t) => !commandExists(t));
  if (missing.length && opts.installTools) {
    const pkgs = [...new Set(missing.map((t) => INSTALL[t].split(' ').pop()))];
    log(`installing ${pkgs.join(' ')} with apt-get`);
    const r = spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs.join(' ')}`], { stdio: 'inherit' });
    if (r.status !== 0) log('  apt-get failed; continuing without them');
    missing = optional.filter((t) => !commandExists(t));
  }
  for (const t of missing) {
    const effect = {
      h2load: 'gRPC workloads fall back to the node:http2 generator, which saturates earlier on 2 cores',
      wrk: 'the HTTP generator cross-check (wrk vs autocannon) is skipped',
      'redis-benchmark': 'the redis-benchmark workload is skipped (recorded as skipped in the results)',
    }[t];
    log(`note: ${t} not found: ${effect}. Install: ${INSTALL[t]} (or rerun with --install-tools as root)`);
  }
  if (!commandExists('taskset')) log(`note: taskset not found: processes are not pinned to cores. Install: ${INSTALL.taskset}`);
  if (fatal.length) {
    for (const f of fatal) console.error(`bench: ${f}`);
    process.exit(1);
  }
  const has = (t) => !missing.includes(t) && commandExists(t);
  const pkg = (name) => {
    try { return JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version; } catch { return null; }
  };
  const tools = {
    h2load: !opts.quick && has('h2load'),
    wrk: !opts.quick && has('wrk'),
    redisBenchmark: has('redis-benchmark'),
    versions: {
      autocannon: pkg('autocannon'), fastify: pkg('fastify'), '@grpc/grpc-js': pkg('@grpc/grpc-js'), ioredis: pkg('ioredis'),
      ...(has('h2load') ? { h2load: version('h2load', ['--version']) } : {}),
      ...(has('wrk') ? { wrk: version('wrk', ['-v']) } : {}),
      ...(has('redis-benchmark') ? { 'redis-benchmark': version('redis-benchmark', ['--version']) } : {}),
    },
    workloads,
  };
  return tools;
}
