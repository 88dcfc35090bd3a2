/**
 * Picks the ObjectStore for a source URI: `s3://` → S3 (one store per endpoint, region and
 * addressing style, shared by every dataset so the concurrency bound is per endpoint), anything
 * without a scheme (an absolute or relative local path) or `file:` → local disk. Other schemes
 * are refused by name rather than misread as local paths.
 */
import { MaltError } from '../errors.js';
import type { MaltConfig } from '../config/types.js';
import { LocalObjectStore } from './local-store.js';
import type { ObjectStore } from './object-store.js';
import { LazyS3ObjectStore } from './lazy-s3-store.js';

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]+):\/\//;

const local = new LocalObjectStore();
const s3Stores = new Map<string, LazyS3ObjectStore>();

export function objectStoreFor(uri: string, s3: MaltConfig['s3']): ObjectStore {
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return local;
  if (scheme !== 's3') {
    const hint = scheme === 's3a' || scheme === 's3n' ? ` (write it as s3://${uri.slice(scheme.length + 3)})` : '';
    throw new MaltError('CONFIG_INVALID', `source uri ${JSON.stringify(uri)}: the ${scheme}:// scheme is not supported; malt reads local paths and s3:// URIs${hint}`);
  }
  const region = s3.region ?? process.env['AWS_REGION'] ?? 'us-east-1';
  const id = JSON.stringify([s3.endpoint, region, s3.forcePathStyle]);
  let store = s3Stores.get(id);
  if (store === undefined) {
    store = new LazyS3ObjectStore({ region, endpoint: s3.endpoint, forcePathStyle: s3.forcePathStyle });
    s3Stores.set(id, store);
  }
  return store;
}

/** Closes the shared S3 stores' sockets (idempotent); later calls build new stores. */
export function closeObjectStores(): void {
  for (const store of s3Stores.values()) store.close();
  s3Stores.clear();
}
