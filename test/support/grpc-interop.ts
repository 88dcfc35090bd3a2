/**
 * Non-Node gRPC clients for test/grpc-interop.test.ts: python3-grpcio (grpc-interop-client.py)
 * and grpc-go (go-interop/, built here offline in GOPATH mode from Debian's golang-go,
 * golang-google-grpc-dev and golang-google-protobuf-dev, cached by a hash of its source). Both
 * read a JSON spec of calls on stdin and print one JSON line per event; this module writes the
 * FileDescriptorSet they build their message types from, runs them, and parses their output
 * strictly: every call ends exactly once, nothing else is printed, and the exit code is 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_ROOT, SERVING_PROTO } from '../../src/serving/grpc-server.js';
import { type FileProto, decodeFile, strictDescriptors } from '../../src/serving/reflection-descriptors.js';

export type InteropClient = 'python' | 'go';
export const INTEROP_CLIENTS: readonly InteropClient[] = ['python', 'go'];

export interface InteropCall {
  id: string;
  method: string;
  kind?: 'unary' | 'server_stream' | 'bidi';
  request_type: string;
  response_type: string;
  request?: unknown;
  requests?: unknown[];
  metadata?: [string, string][];
  timeout_ms?: number;
  compression?: 'gzip' | 'deflate';
  /** Raw wire bytes (hex) the client appends to the request it encoded. */
  append_hex?: string;
}
export type InteropStep = InteropCall | { parallel: InteropCall[] };

export interface InteropSpec {
  addr: string;
  descriptors: string;
  ca?: string;
  steps: InteropStep[];
}

/** How one call ended, as the client saw it (status names as in grpc.StatusCode). */
export interface CallEnd {
  code: string;
  details: string;
  malt_error_code: string | null;
  response: unknown;
  elapsed_ms: number;
}
export interface CallOutcome extends CallEnd {
  /** The messages of a streaming call, in order. */
  messages: unknown[];
}

const here = import.meta.dirname;
const GO_DIR = path.join(here, 'go-interop');
const GOPATH = '/usr/share/gocode';

/**
 * Writes a FileDescriptorSet of malt.v1, grpc.health.v1 and both server reflection versions, from
 * the .proto files the server uses, made valid as the server's reflection makes them
 * (src/serving/reflection-descriptors.ts).
 */
export function writeDescriptorSet(dir: string): string {
  const require = createRequire(import.meta.url);
  const healthRoot = path.join(path.dirname(require.resolve('grpc-health-check/package.json')), 'proto');
  const reflectionRoot = path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto');
  const def = {
    ...protoLoader.loadSync(SERVING_PROTO, { keepCase: true, includeDirs: [PROTO_ROOT] }),
    ...protoLoader.loadSync('health/v1/health.proto', { keepCase: true, includeDirs: [healthRoot] }),
    ...protoLoader.loadSync('grpc/reflection/v1/reflection.proto', { keepCase: true, includeDirs: [reflectionRoot] }),
    ...protoLoader.loadSync('grpc/reflection/v1alpha/reflection.proto', { keepCase: true, includeDirs: [reflectionRoot] }),
  };
  const files = Object.values(strictDescriptors(def)).flatMap((t) => (t as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []);
  const out = path.join(dir, 'interop-descriptors.pb');
  writeFileSync(out, descriptorSet(files));
  return out;
}

/**
 * A FileDescriptorSet of these files (duplicates dropped), each after the files it imports:
 * python's descriptor pool resolves imports as each file is added.
 */
export function descriptorSet(encoded: readonly Buffer[]): Buffer {
  const files = new Map<string, { proto: FileProto; bytes: Buffer }>();
  for (const b of encoded) {
    const proto = decodeFile(b);
    files.set(proto.name, { proto, bytes: b });
  }
  const parts: Buffer[] = [];
  const done = new Set<string>();
  const visit = (name: string): void => {
    const f = files.get(name);
    if (done.has(name) || !f) return;
    done.add(name);
    for (const d of f.proto.dependency ?? []) visit(d);
    // FileDescriptorSet { repeated FileDescriptorProto file = 1; }
    parts.push(Buffer.from([0x0a]), varint(f.bytes.length), f.bytes);
  };
  for (const name of files.keys()) visit(name);
  return Buffer.concat(parts);
}

function varint(n: number): Buffer {
  const b: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) b.push((n & 0x7f) | 0x80);
  b.push(n);
  return Buffer.from(b);
}

/**
 * Builds go-interop once per source version into a cache under the system temp dir (kept across
 * runs: a cold build of grpc-go takes ~30 s here). Throws, with what to install, when Go or the
 * grpc-go sources are missing (scripts/ensure-deps.sh --test installs them).
 */
export function buildGoInterop(): string {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) throw new Error('go not found: install golang-go golang-google-grpc-dev golang-google-protobuf-dev (scripts/ensure-deps.sh --test)');
  if (!existsSync(path.join(GOPATH, 'src/google.golang.org/grpc/server.go'))) throw new Error(`grpc-go sources not found under ${GOPATH}: install golang-google-grpc-dev golang-google-protobuf-dev`);
  const hash = createHash('sha256').update(go.stdout).update(readFileSync(path.join(GO_DIR, 'main.go'))).digest('hex').slice(0, 12);
  const cache = path.join(os.tmpdir(), 'malt-go-interop');
  const bin = path.join(cache, `go-interop-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(cache, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  const env = { ...process.env, GOPATH, GO111MODULE: 'off', GOFLAGS: '', GOPROXY: 'off', GOCACHE: path.join(cache, 'gocache'), CGO_ENABLED: '0' };
  const r = spawnSync('go', ['build', '-o', tmp, '.'], { cwd: GO_DIR, env, encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) throw new Error(`building test/support/go-interop failed (GOPATH=${GOPATH}, GO111MODULE=off):\n${r.stderr}`);
  renameSync(tmp, bin);
  return bin;
}

/** The apt packages (python3-grpcio) install into the system python, which a pyenv shim may hide. */
function pythonBin(): string {
  return process.env['MALT_PYTHON'] ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

function command(client: InteropClient, goBin: string | undefined): [string, string[]] {
  if (client === 'python') return [pythonBin(), [path.join(here, 'grpc-interop-client.py')]];
  if (!goBin) throw new Error('the Go client was not built');
  return [goBin, []];
}

function callIds(steps: InteropStep[]): string[] {
  return steps.flatMap((s) => ('parallel' in s ? s.parallel : [s]).map((c) => c.id));
}

/** A running client: its events as they come, and its outcome per call id once it exits. */
export interface RunningClient {
  /** Resolves when a line for call `id` with event "message" has been printed `count` times. */
  messages(id: string, count: number): Promise<unknown[]>;
  readonly done: Promise<Map<string, CallOutcome>>;
}

/**
 * Starts a client on `spec` (asynchronously: the server under test may run in this process).
 * `done` rejects on a non-zero exit, a line that is not a known event of a known call, a call
 * that ends twice or never, or after `timeoutMs` (the child is then killed).
 */
export function startClient(client: InteropClient, spec: InteropSpec, goBin?: string, timeoutMs = 30_000): RunningClient {
  const [cmd, args] = command(client, goBin);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const ids = new Set(callIds(spec.steps));
  const outcomes = new Map<string, CallOutcome>();
  const streamed = new Map<string, unknown[]>();
  const waiters: { id: string; count: number; resolve: (m: unknown[]) => void }[] = [];
  let stdout = '', stderr = '', problem: string | null = null;
  const onLine = (line: string): void => {
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line) as Record<string, unknown>;
    } catch {
      problem ??= `not JSON: ${line.slice(0, 200)}`;
      return;
    }
    const id = ev['id'];
    if (typeof id !== 'string' || !ids.has(id)) return void (problem ??= `line for an unknown call: ${line.slice(0, 200)}`);
    if (outcomes.has(id)) return void (problem ??= `call ${id} printed after it ended`);
    if (ev['event'] === 'message') {
      const list = streamed.get(id) ?? [];
      list.push(ev['message']);
      streamed.set(id, list);
      for (const w of waiters) if (w.id === id && list.length >= w.count) w.resolve(list.slice());
      return;
    }
    if (ev['event'] !== 'end' || typeof ev['code'] !== 'string' || typeof ev['details'] !== 'string' || typeof ev['elapsed_ms'] !== 'number'
      || !(ev['malt_error_code'] === null || typeof ev['malt_error_code'] === 'string') || !('response' in ev)) {
      return void (problem ??= `malformed line: ${line.slice(0, 200)}`);
    }
    outcomes.set(id, { ...(ev as unknown as CallEnd), messages: streamed.get(id) ?? [] });
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    let nl;
    while ((nl = stdout.indexOf('\n')) >= 0) {
      onLine(stdout.slice(0, nl));
      stdout = stdout.slice(nl + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(JSON.stringify(spec));
  const done = new Promise<Map<string, CallOutcome>>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const missing = [...ids].filter((id) => !outcomes.has(id));
      const seen = `ended: ${[...outcomes.keys()].join(', ') || 'none'}; stream messages: ${JSON.stringify(Object.fromEntries(streamed))}`;
      if (code !== 0) return reject(new Error(`${client} client exited with ${code ?? signal} (${seen}):\n${stderr}`));
      if (stdout !== '') problem ??= `unterminated output: ${stdout.slice(0, 200)}`;
      if (problem) return reject(new Error(`${client} client: ${problem}\n${stderr}`));
      if (missing.length) return reject(new Error(`${client} client never ended ${missing.join(', ')}\n${stderr}`));
      resolve(outcomes);
    });
  });
  return {
    done,
    messages: (id, count) => new Promise((resolve, reject) => {
      const have = streamed.get(id) ?? [];
      if (have.length >= count) return resolve(have.slice());
      waiters.push({ id, count, resolve });
      done.then(() => reject(new Error(`${client} client exited with ${streamed.get(id)?.length ?? 0} messages for ${id}, wanted ${count}`)), reject);
    }),
  };
}

/** Runs a client on `spec` to the end; its outcome per call id. */
export function runClient(client: InteropClient, spec: InteropSpec, goBin?: string): Promise<Map<string, CallOutcome>> {
  return startClient(client, spec, goBin).done;
}

export function outcome(results: Map<string, CallOutcome>, id: string): CallOutcome {
  const r = results.get(id);
  if (!r) throw new Error(`no outcome for ${id}`);
  return r;
}

/** What a client sent to recordingServer(): the request headers and the first message's compressed flag. */
export interface RecordedRequest {
  headers: Record<string, string | string[] | undefined>;
  compressedFlag: number | undefined;
}

/**
 * A bare node:http2 server (not malt) that records each request and answers UNIMPLEMENTED: it
 * shows what a client really puts on the wire (a gzip request's grpc-encoding and compressed
 * flag, grpc-timeout), so the tests against malt cannot pass on a client that silently did not.
 */
export async function recordingServer(): Promise<{ addr: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      requests.push({ headers: { ...headers }, compressedFlag: Buffer.concat(chunks)[0] });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '12', 'grpc-message': 'recorded' }));
      stream.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { addr: `127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
