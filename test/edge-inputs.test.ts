/**
 * Edge inputs get catalog errors: undecodable gRPC messages, a lowercase bearer scheme, C1
 * control characters in entity ids, an over-long URL.
 */
import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { type ServingClient, call, servingClient } from '../src/serving/grpc-client.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';

const apps = appsClosedAfterAll();
let app: ServingApp;
let client: ServingClient;

beforeAll(async () => {
  const dir = tmpDir();
  writePlayers(path.join(dir, 'p.parquet'), [{ id: 'a', ltv: 1, level: 1, country: 'SE', is_payer: true, last_login: null, tags: null }]);
  const config = makeConfig({ serving: { admin_token: 's3cret' }, datasets: [featuresDataset('edge', path.join(dir, 'p.parquet'))] });
  await load(config, 'edge');
  app = await serve(config);
  apps.push(app);
  client = servingClient(`127.0.0.1:${app.grpcPort}`);
});
afterAll(() => client?.close());

describe('edge inputs', () => {
  it('a gRPC request that does not decode answers INVALID_ARGUMENT with malt-error-code', async () => {
    const raw = new grpc.Client(`127.0.0.1:${app.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const bad = Buffer.from([0x0a, 0xff]); // field 1, length-delimited, with a truncated length varint
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        raw.makeUnaryRequest('/malt.v1.Serving/Get', (b: Buffer) => b, (b: Buffer) => b, bad, (e) => resolve(e as grpc.ServiceError));
      });
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.metadata.get('malt-error-code')).toEqual(['INVALID_ARGUMENT']);
    } finally {
      raw.close();
    }
  });

  it('the bearer scheme is case-insensitive for rollback', async () => {
    const res = await app.http.inject({ method: 'POST', url: '/v1/datasets/edge/rollback', headers: { authorization: 'bearer s3cret' } });
    // Authenticated: refused only because there is no older version.
    expect(res.json().error.code).toBe('NO_PREVIOUS_VERSION');
    const wrong = await app.http.inject({ method: 'POST', url: '/v1/datasets/edge/rollback', headers: { authorization: 'bearer nope' } });
    expect(wrong.json().error.code).toBe('UNAUTHENTICATED');
  });

  it('C1 control characters in entity ids are refused on both transports', async () => {
    const res = await app.http.inject({ method: 'GET', url: `/v1/entities/${encodeURIComponent('a\u0085b')}` });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_ENTITY_ID');
    const err = await call(client, 'Get', { entity_id: 'a\u009fb', datasets: [] }).then(() => null, (e: unknown) => e as grpc.ServiceError);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.metadata.get('malt-error-code')).toEqual(['INVALID_ENTITY_ID']);
  });

  it('an over-long URL gets 431 with a catalog error body', async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const sock = net.createConnection({ host: '127.0.0.1', port: app.httpPort });
      let data = '';
      sock.on('data', (d) => (data += d.toString()));
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
      sock.write(`GET /v1/entities/${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    expect(text.startsWith('HTTP/1.1 431 ')).toBe(true);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expect(body.error.code).toBe('HEADERS_TOO_LARGE');
  });
});
