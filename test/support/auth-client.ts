/** gRPC calls with an `authorization` header (and optional TLS credentials), for the auth and TLS tests. */
import * as grpc from '@grpc/grpc-js';
import { loadServingPackage } from '../../src/serving/grpc-server.js';

export type Client = grpc.Client & Record<string, (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => unknown>;

export function client(addr: string, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): Client {
  const loaded = grpc.loadPackageDefinition(loadServingPackage()) as unknown as { malt: { v1: { Serving: grpc.ServiceClientConstructor } } };
  return new loaded.malt.v1.Serving(addr, creds, options) as unknown as Client;
}

/** Resolves to the response, or to the error's status code name and malt code. */
export function callWith(c: Client, method: string, req: unknown, token?: string): Promise<{ ok: true; res: unknown } | { ok: false; status: string; code: string | undefined; details: string }> {
  const meta = new grpc.Metadata();
  if (token !== undefined) meta.set('authorization', token);
  return new Promise((resolve) => {
    c[method]!.call(c, req, meta, { deadline: Date.now() + 5000 }, (err, res) => {
      if (!err) return resolve({ ok: true, res });
      const code = err.metadata?.get('malt-error-code')[0];
      resolve({ ok: false, status: grpc.status[err.code] ?? String(err.code), code: typeof code === 'string' ? code : undefined, details: err.details });
    });
  });
}

/** grpc.health.v1 Check for the server (''), with no authorization metadata. */
export async function healthCheck(addr: string, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure()): Promise<string> {
  const { service } = await import('grpc-health-check');
  const Health = grpc.makeGenericClientConstructor(service as unknown as grpc.ServiceDefinition, 'Health');
  const h = new Health(addr, creds) as unknown as Client;
  try {
    const r = await callWith(h, 'Check', { service: '' });
    return r.ok ? (r.res as { status: string }).status : r.status;
  } finally {
    h.close();
  }
}
