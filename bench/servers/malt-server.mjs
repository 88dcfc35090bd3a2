/**
 * malt itself, as the app starts it (startServing from dist/), in its own process.
 * argv[2]: the config document as JSON (see bench/lib/dataset.mjs maltDocument).
 * MALT_BENCH_DIST: another build of dist/ to run instead (an A/B of a code change in one run,
 * bench/tails.mjs --variant 'before:--dist=<dir>'); it must sit beside dist/ (same depth) so its
 * ../proto and ../lua resolve.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runServer } from './lifecycle.mjs';

const dist = process.env.MALT_BENCH_DIST ? pathToFileURL(`${path.resolve(process.env.MALT_BENCH_DIST)}/`).href : new URL('../../dist/', import.meta.url).href;
const { startServing } = await import(new URL('app.js', dist).href);
const { loadConfig } = await import(new URL('config.js', dist).href);

let app;
await runServer({
  async start() {
    // Only the variables a tails.mjs --variant sets (NAME=value) reach the config, not the runner's whole environment.
    const env = { MALT_GRPC_FAST_PATH: process.env.MALT_GRPC_FAST_PATH };
    const config = loadConfig({ document: JSON.parse(process.argv[2]), env, baseDir: process.cwd() });
    app = await startServing(config, { drainMs: 500 });
    return { httpPort: app.httpPort, grpcPort: app.grpcPort };
  },
  stats: () => ({ cache: { ...app.lookup.cache.stats, entries: app.lookup.cache.entries, bytes: app.lookup.cache.sizeBytes } }),
  close: () => app?.close(),
});
