// Runs fauxqs (an S3-compatible server; needs Node >= 22.5) on 127.0.0.1 in its own process, so
// the suite itself can stay on the machine's Node. Started by s3-server.ts under Node 24.
// Prints one JSON line {"port": N} once listening; closes on SIGTERM.
// GET /__requests returns every S3 request seen so far ({method, url, range}); DELETE clears it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// fauxqs is installed into .tools/fauxqs by `scripts/ensure-deps.sh --test` (not a devDependency:
// it needs Node >= 22.5 and would make `npm ci` warn on Node 20). MALT_FAUXQS_DIR overrides.
const fauxqsDir = process.env.MALT_FAUXQS_DIR
  ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../.tools/fauxqs/node_modules/fauxqs');
const manifest = JSON.parse(readFileSync(path.join(fauxqsDir, 'package.json'), 'utf8'));
const entry = manifest.exports?.['.']?.import?.default ?? manifest.main;
const { buildApp } = await import(pathToFileURL(path.join(fauxqsDir, entry)).href);

// S3 lists keys in UTF-8 byte order; fauxqs 2.4 sorts them with localeCompare (so `_x` sorts
// before `0`, `Z` after `a`) while paging by `>`, which skips and repeats keys across pages.
// This process runs nothing but fauxqs, so make its sort S3's.
String.prototype.localeCompare = function localeCompare(that) {
  return Buffer.compare(Buffer.from(String(this)), Buffer.from(String(that)));
};

const seen = [];
const app = buildApp({ logger: false });
app.addHook('onRequest', async (req) => {
  if (!req.url.startsWith('/__requests')) seen.push({ method: req.method, url: req.url, range: req.headers['range'] ?? null });
});
app.get('/__requests', async () => seen);
app.delete('/__requests', async () => { seen.length = 0; return { cleared: true }; });

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.S3_TEST_PORT ?? 0) });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(address).port) })}\n`);
const close = () => { app.close().finally(() => process.exit(0)); };
process.on('SIGTERM', close);
// The parent holds our stdin open; when it dies without stopping us, stdin ends: exit too.
process.stdin.on('end', close);
process.stdin.resume();
