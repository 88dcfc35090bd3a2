import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyLayout } from '../src/keys.js';
import { SnapshotStore } from '../src/store/snapshot-store.js';
import { featuresDataset, load, makeConfig, newRedis, tmpDir, writePlayers } from './support/fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (p: string): string => readFileSync(path.join(root, p), 'utf8');

/** Manifest fields named in the key-layout comment of src/keys.ts (the P:{D}:v:V row). */
function keysCommentFields(): string[] {
  const lines = read('src/keys.ts').split('\n');
  const start = lines.findIndex((l) => l.includes('P:{D}:v:V ') && l.includes('manifest'));
  const block: string[] = [];
  for (let i = start; i < lines.length && (i === start || !/^\s\*\s{3}P:/.test(lines[i]!)); i++) block.push(lines[i]!);
  const text = block.map((l) => l.replace(/^\s\*\s+P:\{D\}:v:V\s+hash\s+/, '').replace(/^\s\*\s+/, '').replace(/until reclaimed/, '')).join(' ');
  const afterColon = text.slice(text.indexOf('manifest:') + 'manifest:'.length);
  return [...afterColon.replace(/\([^)]*\)/g, '').matchAll(/[a-z][a-z_]*/g)].map((m) => m[0]).sort();
}

/** Manifest fields in the "fields below" table of docs/redis-layout.md. */
function redisLayoutFields(): string[] {
  const doc = read('docs/redis-layout.md');
  const lines = doc.split('\n');
  const head = lines.findIndex((l, i) => i > lines.findIndex((x) => x.includes('The version\'s manifest (fields below)')) && /^\|\s*Field/i.test(l));
  const out: string[] = [];
  for (let i = head + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    const first = lines[i]!.split('|')[1] ?? '';
    for (const m of first.matchAll(/`([a-z_]+)`/g)) out.push(m[1]!);
  }
  return out.sort();
}

describe('the manifest docs match the manifest a load writes', () => {
  const cfg = makeConfig({ datasets: [featuresDataset('docs_pf', path.join(tmpDir(), 'pf'))] });
  const redis = newRedis(cfg);
  afterAll(() => redis.quit());

  it('src/keys.ts comment and docs/redis-layout.md list exactly the fields of a real manifest', async () => {
    const uri = (cfg.datasets[0]!.source as { uri: string }).uri;
    writePlayers(path.join(uri, 'a.parquet'), [{ id: 'a', ltv: 1, level: 1, country: 'US', is_payer: true, last_login: null, tags: null }]);
    await load(cfg, 'docs_pf');
    await load(cfg, 'docs_pf', true); // v1 is retired
    const keys = new KeyLayout(cfg.redis.keyPrefix);
    await new SnapshotStore(redis, keys).rollback('docs_pf', 1); // v2 is rolled back
    // `error` is only written on failed versions.
    const fields = new Set(['error']);
    for (const v of [1, 2]) for (const f of Object.keys(await redis.hgetall(keys.manifest('docs_pf', v)))) fields.add(f);
    const written = [...fields].sort();
    expect(written.length).toBeGreaterThan(5);
    expect({ doc: 'docs/redis-layout.md', fields: redisLayoutFields() }).toEqual({ doc: 'docs/redis-layout.md', fields: written });
    expect({ doc: 'src/keys.ts', fields: keysCommentFields() }).toEqual({ doc: 'src/keys.ts', fields: written });
  });
});
