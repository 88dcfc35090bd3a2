/** scripts/check-cycles.mjs also refuses cycles between folders of src/ (cache/ ↔ serving/ was one). */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tmpDir } from './support/fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (dir: string) => spawnSync(process.execPath, [path.join(root, 'scripts/check-cycles.mjs'), dir], { encoding: 'utf8' });

function tree(files: Record<string, string>): string {
  const base = tmpDir();
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(base, file)), { recursive: true });
    writeFileSync(path.join(base, file), text);
  }
  return base;
}

describe('folder import cycles', () => {
  it('are found even when no file cycle exists, naming the imports that make them', () => {
    const base = tree({
      'cache/result-cache.ts': "import type { Result } from '../serving/result.js';\nexport type Cache = Map<string, Result>;\n",
      'serving/result.ts': 'export type Result = string;\n',
      'serving/lookup.ts': "import type { Cache } from '../cache/result-cache.js';\nexport type L = Cache;\n",
    });
    try {
      const r = run(base);
      expect(r.status).toBe(1);
      expect(r.stderr).not.toMatch(/^import cycles/m);
      expect(r.stderr).toContain('folder import cycles in src/ (1)');
      expect(r.stderr).toMatch(/(cache\/ -> serving\/ -> cache\/|serving\/ -> cache\/ -> serving\/)/);
      expect(r.stderr).toContain('cache/result-cache.ts imports serving/result.ts');
      expect(r.stderr).toContain('serving/lookup.ts imports cache/result-cache.ts');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a shared type in a lower folder (model/) breaks the cycle; top-level files are units of their own', () => {
    const base = tree({
      'model/result.ts': 'export type Result = string;\n',
      'cache/result-cache.ts': "import type { Result } from '../model/result.js';\nexport type Cache = Map<string, Result>;\n",
      'serving/lookup.ts': "import type { Cache } from '../cache/result-cache.js';\nimport type { E } from '../errors.js';\nexport type L = [Cache, E];\n",
      'errors.ts': 'export type E = 1;\n',
      'app.ts': "import type { L } from './serving/lookup.js';\nexport type A = L;\n",
    });
    try {
      const r = run(base);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('5 files, 5 folders and top-level modules');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
