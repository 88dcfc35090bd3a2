/**
 * The bench's data: a cached sample lake (bench/.data/lake-<players>/, written once with malt's
 * own writeSampleLake), malt configs over it, the load into Redis, and request key sequences
 * (Zipf-distributed for the cache-hit workloads, uniform for the Redis-heavy one).
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../dist/config.js';
import { loadDataset } from '../../dist/loaders/load-dataset.js';
import { prng, sampleConfigDocument, samplePlayerId, writeSampleLake } from '../../dist/sample/sample-lake.js';

export const DATASET = 'player_features';

/** Returns the lake directory for `players`, writing it on first use (cached across runs). */
export function sampleLake(dataDir, players, log) {
  const dir = path.join(dataDir, `lake-${players}`);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const t0 = performance.now();
  log(`writing a sample lake of ${players.toLocaleString('en-US')} players to ${dir} (cached for later runs)`);
  writeSampleLake({ dir: tmp, players, files: Math.max(1, Math.ceil(players / 250_000)) });
  writeFileSync(path.join(tmp, '.complete'), `${new Date().toISOString()}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`  wrote the lake in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return dir;
}

/** The malt config document for the bench: the sample features dataset only. */
export function maltDocument(lakeDir, { redisUrl, keyPrefix, cacheMaxBytes, requestTimeoutMs }) {
  const sample = sampleConfigDocument(lakeDir);
  return {
    redis: { url: redisUrl, key_prefix: keyPrefix },
    // The --quick smoke runs beside the whole test suite on 2 cores: a generous Redis deadline
    // keeps a busy box from turning into 503s there (the real runs keep the 250 ms default).
    serving: { host: '127.0.0.1', http_port: 0, grpc_port: 0, ...(requestTimeoutMs ? { request_timeout_ms: requestTimeoutMs } : {}) },
    cache: { max_bytes: cacheMaxBytes },
    datasets: sample.datasets.filter((d) => d.name === DATASET),
  };
}

export function maltConfig(doc) {
  return loadConfig({ document: doc, env: {}, baseDir: process.cwd() });
}

/** Loads the features dataset with malt's own loader; returns its report. */
export async function loadIntoRedis(config) {
  const redis = new Redis(config.redis.url, { lazyConnect: false });
  try {
    const dataset = config.datasets.find((d) => d.name === DATASET);
    return await loadDataset(redis, config, dataset, { force: true });
  } finally {
    redis.disconnect();
  }
}

/** mulberry32 (shared with the sample lake): seeded, so every run asks for the same keys. */
export { prng };

/**
 * A Zipf(s) sampler over `n` players: rank r is drawn with probability ∝ 1/r^s, and ranks map to
 * players through a fixed shuffle so the hot players are spread over the id space (and buckets).
 */
export function zipfSampler(n, s, seed) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 1; r <= n; r++) {
    sum += 1 / r ** s;
    cdf[r - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  const rand = prng(seed);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return () => {
    const u = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return perm[lo];
  };
}

export function zipfIds(players, count, { s = 0.99, seed = 7 } = {}) {
  const next = zipfSampler(players, s, seed);
  return Array.from({ length: count }, () => samplePlayerId(next()));
}

export function uniformIds(players, count, seed = 11) {
  const rand = prng(seed);
  return Array.from({ length: count }, () => samplePlayerId(Math.floor(rand() * players)));
}

/** `count` batches of `size` distinct Zipf-distributed ids. */
export function zipfBatches(players, size, count, seed = 13) {
  const next = zipfSampler(players, 0.99, seed);
  const out = [];
  for (let b = 0; b < count; b++) {
    const ids = new Set();
    while (ids.size < Math.min(size, players)) ids.add(samplePlayerId(next()));
    out.push([...ids]);
  }
  return out;
}

export { samplePlayerId };
