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

export function call<T>(client: ServingClient, method: string, req: unknown, deadlineMs = 5000, metadata = new grpc.Metadata()): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = client[method];
    if (!fn) return reject(new Error(`no method ${method}`));
    fn.call(client, req, metadata, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res as T)));
  });
}

/** Call metadata carrying `authorization: Bearer <token>` when a token is given (servers with auth keys need it). */
export function bearerMetadata(token?: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

export async function grpcGet(addr: string, entityId: string, datasets: string[], segmentsDataset?: string, token?: string): Promise<unknown> {
  const client = servingClient(addr);
  const metadata = bearerMetadata(token);
  try {
    return segmentsDataset
      ? await call(client, 'GetSegments', { entity_id: entityId, dataset: segmentsDataset }, 5000, metadata)
      : await call(client, 'Get', { entity_id: entityId, datasets }, 5000, metadata);
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
