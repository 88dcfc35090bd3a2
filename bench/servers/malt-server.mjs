/**
 * malt itself, as the app starts it (startServing from dist/), in its own process.
 * argv[2]: the config document as JSON (see bench/lib/dataset.mjs maltDocument).
 */
import { startServing } from '../../dist/app.js';
import { loadConfig } from '../../dist/config.js';
import { runServer } from './lifecycle.mjs';

let app;
await runServer({
  async start() {
    const config = loadConfig({ document: JSON.parse(process.argv[2]), env: {}, baseDir: process.cwd() });
    app = await startServing(config, { drainMs: 500 });
    return { httpPort: app.httpPort, grpcPort: app.grpcPort };
  },
  stats: () => ({ cache: { ...app.lookup.cache.stats, entries: app.lookup.cache.entries, bytes: app.lookup.cache.sizeBytes } }),
  close: () => app?.close(),
});
