/**
 * gRPC server credentials from TlsFiles, updated in place when the files are reloaded
 * (grpc-js's certificate-provider credentials call setSecureContext on the running server).
 */
import * as grpc from '@grpc/grpc-js';
import type { TlsFiles } from './tls-files.js';

export function grpcServerCredentials(tls: TlsFiles | null): grpc.ServerCredentials {
  if (tls === null) return grpc.ServerCredentials.createInsecure();
  // grpc-js 1.14 hands its first argument to the identity slot and its second to the CA slot
  // (the .d.ts names them the other way round); a null CA provider means "do not ask for client
  // certificates". test/tls.test.ts covers both shapes, so a change in grpc-js shows there.
  const creds = grpc.experimental.createCertificateProviderServerCredentials(tls, tls.config.clientCa === null ? null : tls, tls.config.requireClientCert);
  // The server reads the current options before it attaches its own watcher; attach one first so
  // the providers have already delivered the certificate (else the first connections are dropped).
  creds._addWatcher(() => undefined);
  return creds;
}
