import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tmpDir } from './support/fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const run = (...args: string[]) => spawnSync(process.execPath, [path.join(root, 'scripts/check-cycles.mjs'), ...args], { encoding: 'utf8' });

describe('import cycles', () => {
  it('src/ has none (relative imports, import type included)', () => {
    const r = run();
    expect(r.status, r.stderr).toBe(0);
  });

  it('the check finds a type-only cycle and names it', () => {
    const base = tmpDir();
    const dir = path.join(base, `zz-cycle-probe-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b.js';\nexport type A = B;\n");
      writeFileSync(path.join(dir, 'b.ts'), "import type { A } from './a.js';\nexport type B = A | 1;\n");
      const r = run(base);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`zz-cycle-probe-${process.pid}/a.ts`);
      expect(r.stderr).toContain(`zz-cycle-probe-${process.pid}/b.ts`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
