/**
 * Builds bench/loadgen (the native open-loop generator, Go + grpc-go) into a cache dir, offline:
 * GOPATH mode over Debian's packaged sources (golang-go, golang-google-grpc-dev,
 * golang-google-protobuf-dev put them under /usr/share/gocode), no module downloads. The binary
 * is cached by a hash of the sources and rebuilt when they change.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const LOADGEN_DIR = fileURLToPath(new URL('../loadgen/', import.meta.url));
export const GOPATH = '/usr/share/gocode';
export const GO_PACKAGES = 'golang-go golang-google-grpc-dev golang-google-protobuf-dev';

function sourceHash() {
  const h = createHash('sha256');
  for (const f of readdirSync(LOADGEN_DIR).filter((n) => n.endsWith('.go')).sort()) h.update(f).update(readFileSync(path.join(LOADGEN_DIR, f)));
  return h.digest('hex').slice(0, 12);
}

/**
 * Returns {bin, built, goVersion} or {missing: why}; `cacheDir` holds the binary and Go's build
 * cache (default: bench/.data/loadgen).
 */
export function buildLoadgen(cacheDir = fileURLToPath(new URL('../.data/loadgen/', import.meta.url))) {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) return { missing: `go not found: install ${GO_PACKAGES} (Debian) to build the native load generator` };
  if (!existsSync(path.join(GOPATH, 'src/google.golang.org/grpc/server.go'))) {
    return { missing: `grpc-go sources not found under ${GOPATH}: install golang-google-grpc-dev golang-google-protobuf-dev` };
  }
  const bin = path.join(cacheDir, `malt-loadgen-${sourceHash()}`);
  const goVersion = go.stdout.trim();
  if (existsSync(bin)) return { bin, built: false, goVersion };
  mkdirSync(cacheDir, { recursive: true });
  const env = { ...process.env, GOPATH, GO111MODULE: 'off', GOFLAGS: '', GOPROXY: 'off', GOCACHE: path.join(cacheDir, 'gocache'), CGO_ENABLED: '0' };
  const tmp = `${bin}.tmp-${process.pid}`;
  const r = spawnSync('go', ['build', '-o', tmp, '.'], { cwd: LOADGEN_DIR, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`building bench/loadgen failed (go build, GOPATH=${GOPATH}, GO111MODULE=off):\n${r.stderr}`);
  renameSync(tmp, bin);
  return { bin, built: true, goVersion };
}
