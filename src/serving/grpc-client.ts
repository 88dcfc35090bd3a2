/**
 * A minimal malt.v1.Serving client, used by `malt get` and the tests.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CATALOG, type ErrorCode, MaltError } from '../errors.js';
import { loadServingPackage } from './grpc-server.js';

export type ServingClient = grpc.Client & Record<string, (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => grpc.ClientUnaryCall>;

export function servingClient(addr: string): ServingClient {
  const loaded = grpc.loadPackageDefinition(loadServingPackage()) as unknown as { malt: { v1: { Serving: grpc.ServiceClientConstructor } } };
  return new loaded.malt.v1.Serving(addr, grpc.credentials.createInsecure()) as unknown as ServingClient;
}

export function call<T>(client: ServingClient, method: string, req: unknown, deadlineMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = client[method];
    if (!fn) return reject(new Error(`no method ${method}`));
    fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

export async function grpcGet(addr: string, entityId: string, datasets: string[], segmentsDataset?: string): Promise<unknown> {
  const client = servingClient(addr);
  try {
    return segmentsDataset
      ? await call(client, 'GetSegments', { entity_id: entityId, dataset: segmentsDataset })
      : await call(client, 'Get', { entity_id: entityId, datasets });
  } catch (err) {
    const e = err as grpc.ServiceError;
    const code = e.metadata?.get('malt-error-code')[0];
    if (typeof code === 'string' && code in ERROR_CATALOG) {
      throw new MaltError(code as ErrorCode, (e.details ?? e.message).replace(`${code}: `, ''));
    }
    const unavailable = e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED;
    throw new MaltError(unavailable ? 'SERVER_UNREACHABLE' : 'INTERNAL', `gRPC call to ${addr} failed: ${e.details ?? e.message}`);
  } finally {
    client.close();
  }
}
