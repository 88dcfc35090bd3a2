import { copyFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildHttp } from '../src/serving/http-server.js';
import { startGrpc } from '../src/serving/grpc-server.js';
import { TlsFiles } from '../src/tls/tls-files.js';
import { loadConfig } from '../src/config.js';
import { callWith, client } from './support/auth-client.js';
import { makeCa, makeLeaf, pem } from './support/test-certs.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, writePlayers, type PlayerRow } from './support/fixtures.js';

const apps = appsClosedAfterAll();
const rows: PlayerRow[] = Array.from({ length: 5 }, (_, i) => ({ id: `p${i}`, ltv: i, level: i, country: 'US', is_payer: true, last_login: null, tags: null }));
let certs: string;
let lake: string;

beforeAll(() => {
  certs = tmpDir();
  makeCa(certs, 'ca1');
  makeCa(certs, 'ca2');
  makeLeaf(certs, 'ca1', 'server1', 'serverAuth');
  makeLeaf(certs, 'ca2', 'server2', 'serverAuth');
  makeLeaf(certs, 'ca1', 'client1', 'clientAuth');
  makeCa(certs, 'rogue');
  makeLeaf(certs, 'rogue', 'client-rogue', 'clientAuth');
  lake = tmpDir();
  writePlayers(path.join(lake, 'p.parquet'), rows);
});

/** A serving folder with cert.pem/key.pem copied from `leaf`. */
function servingCerts(leaf: string): string {
  const dir = tmpDir();
  copyFileSync(path.join(certs, `${leaf}.crt`), path.join(dir, 'cert.pem'));
  copyFileSync(path.join(certs, `${leaf}.key`), path.join(dir, 'key.pem'));
  copyFileSync(path.join(certs, 'ca1.crt'), path.join(dir, 'clients-ca.pem'));
  return dir;
}

/** Swaps the served files to `leaf` (key first, then cert, as a writer would). */
function swapTo(dir: string, leaf: string): void {
  writeFileSync(path.join(dir, 'key.pem'), pem(certs, `${leaf}.key`));
  writeFileSync(path.join(dir, 'cert.pem'), pem(certs, `${leaf}.crt`));
}

function httpsGet(port: number, ca: string, clientLeaf?: string): Promise<{ status: number; cn: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path: '/v1/entities/p1', method: 'GET', ca: pem(certs, `${ca}.crt`), agent: false,
      ...(clientLeaf ? { cert: pem(certs, `${clientLeaf}.crt`), key: pem(certs, `${clientLeaf}.key`) } : {}),
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => {
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        resolve({ status: res.statusCode ?? 0, cn: String(peer.subject?.CN ?? ''), body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function grpcGet(port: number, ca: string, clientLeaf?: string) {
  const creds = clientLeaf
    ? grpc.credentials.createSsl(pem(certs, `${ca}.crt`), pem(certs, `${clientLeaf}.key`), pem(certs, `${clientLeaf}.crt`))
    : grpc.credentials.createSsl(pem(certs, `${ca}.crt`));
  // A private subchannel pool: every call makes a fresh TLS handshake.
  const c = client(`127.0.0.1:${port}`, creds, { 'grpc.use_local_subchannel_pool': 1 });
  return callWith(c, 'Get', { entity_id: 'p1', datasets: [] }).finally(() => c.close());
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('TLS on HTTP and gRPC', () => {
  it('serves HTTPS and gRPC over TLS to clients trusting the CA; a file change swaps the certificate without a restart', async () => {
    const dir = servingCerts('server1');
    const cfg = makeConfig({ tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') }, datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] });
    await load(cfg, 'feat');
    const app = await serve(cfg);
    apps.push(app);
    const first = await httpsGet(app.httpPort, 'ca1');
    expect(first).toMatchObject({ status: 200, cn: 'server1' });
    expect(JSON.parse(first.body).datasets[0].features.ltv.value).toBe(1);
    expect(await grpcGet(app.grpcPort, 'ca1')).toMatchObject({ ok: true });
    // A plaintext gRPC client cannot talk to it.
    expect(await callWith(client(`127.0.0.1:${app.grpcPort}`, undefined, { 'grpc.use_local_subchannel_pool': 1 }), 'Get', { entity_id: 'p1', datasets: [] })).toMatchObject({ ok: false });

    swapTo(dir, 'server2');
    const after = await until(() => httpsGet(app.httpPort, 'ca2').catch(() => ({ status: 0, cn: '', body: '' })), (r) => r.cn === 'server2');
    expect(after).toMatchObject({ status: 200, cn: 'server2' });
    expect(await until(() => grpcGet(app.grpcPort, 'ca2'), (r) => r.ok)).toMatchObject({ ok: true });
    // Clients trusting only the old CA now refuse the new certificate: it is really served.
    expect(await grpcGet(app.grpcPort, 'ca1')).toMatchObject({ ok: false, status: 'UNAVAILABLE' });
  });

  it('reloads on SIGHUP (file watching off), on both transports, without restarting them', async () => {
    const dir = servingCerts('server1');
    const cfg = makeConfig({ tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') }, datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] });
    await load(cfg, 'feat');
    const base = await serve(makeConfig({ redis: cfg.redis && { key_prefix: cfg.redis.keyPrefix }, datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] }));
    apps.push(base);
    const tls = new TlsFiles(cfg.tls!, { watchFiles: false });
    let http: FastifyInstance | undefined;
    const grpcServer = await startGrpc(base.lookup, { host: '127.0.0.1', port: 0, timeoutMs: 250, isClosing: () => false, tls });
    try {
      http = await buildHttp({ config: cfg, lookup: base.lookup, tracker: base.tracker, readiness: base.readiness, redis: base.redis, isClosing: () => false, tls });
      await http.listen({ host: '127.0.0.1', port: 0 });
      const port = (http.server.address() as import('node:net').AddressInfo).port;
      expect((await httpsGet(port, 'ca1')).cn).toBe('server1');
      swapTo(dir, 'server2');
      await new Promise((r) => setTimeout(r, 400));
      expect((await httpsGet(port, 'ca1')).cn).toBe('server1');
      process.kill(process.pid, 'SIGHUP');
      const after = await until(() => httpsGet(port, 'ca2').catch(() => ({ status: 0, cn: '', body: '' })), (r) => r.cn === 'server2');
      expect(after).toMatchObject({ status: 200, cn: 'server2' });
      expect(tls.reloads).toBe(1);
      expect(await grpcGet(grpcServer.port, 'ca2')).toMatchObject({ ok: true });
      // A broken pair (new key, old cert) is refused and the served certificate stays.
      writeFileSync(path.join(dir, 'key.pem'), pem(certs, 'server1.key'));
      expect(tls.reload('test')).toBe(false);
      expect((await httpsGet(port, 'ca2')).cn).toBe('server2');
    } finally {
      await http?.close();
      await grpcServer.close(100);
      tls.close();
    }
  });

  it('with require_client_cert, gRPC and HTTPS refuse clients without a certificate from client_ca', async () => {
    const dir = servingCerts('server1');
    const cfg = makeConfig({
      tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), client_ca: path.join(dir, 'clients-ca.pem'), require_client_cert: true },
      datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))],
    });
    await load(cfg, 'feat');
    const app = await serve(cfg);
    apps.push(app);
    expect(await grpcGet(app.grpcPort, 'ca1')).toMatchObject({ ok: false, status: 'UNAVAILABLE' });
    expect(await grpcGet(app.grpcPort, 'ca1', 'client-rogue')).toMatchObject({ ok: false, status: 'UNAVAILABLE' });
    expect(await grpcGet(app.grpcPort, 'ca1', 'client1')).toMatchObject({ ok: true });
    await expect(httpsGet(app.httpPort, 'ca1')).rejects.toThrow();
    expect(await httpsGet(app.httpPort, 'ca1', 'client1')).toMatchObject({ status: 200 });
  });

  it('client_ca without require_client_cert asks for a certificate but serves clients without one', async () => {
    const dir = servingCerts('server1');
    const cfg = makeConfig({ tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), client_ca: path.join(dir, 'clients-ca.pem') }, datasets: [featuresDataset('feat', path.join(lake, 'p.parquet'))] });
    await load(cfg, 'feat');
    const app = await serve(cfg);
    apps.push(app);
    expect(await grpcGet(app.grpcPort, 'ca1')).toMatchObject({ ok: true });
    expect(await grpcGet(app.grpcPort, 'ca1', 'client1')).toMatchObject({ ok: true });
    expect(await httpsGet(app.httpPort, 'ca1')).toMatchObject({ status: 200 });
  });

  it('config: cert and key go together, require_client_cert needs client_ca, unreadable files stop the start', async () => {
    const doc = (tls: unknown) => ({ redis: { url: 'redis://127.0.0.1:1' }, tls, datasets: [featuresDataset('x', '/tmp/x.parquet')] });
    expect(() => loadConfig({ document: doc({ cert: '/a.pem' }), env: {} })).toThrow(/tls: cert and key go together/);
    expect(() => loadConfig({ document: doc({ cert: '/a.pem', key: '/b.pem', require_client_cert: true }), env: {} })).toThrow(/require_client_cert: needs tls.client_ca/);
    expect(() => new TlsFiles({ cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem', clientCa: null, requireClientCert: false }, { sighup: false, watchFiles: false })).toThrow(/tls: cannot use/);
  });
});
