/**
 * An S3 ObjectStore that imports @aws-sdk/client-s3 (via s3-store.ts) on its first request, so a
 * `malt load` of local files and the worker threads of one never pay for loading the SDK
 * (~0.15 CPU-s; BENCHMARKS.md, loader). Same behaviour as S3ObjectStore, which it delegates to.
 */
import type { AsyncBuffer, ListOptions, ObjectInfo, ObjectStore } from './object-store.js';
import type { S3ObjectStore, S3StoreOptions } from './s3-store.js';
import { joinS3 } from './s3-uri.js';

export class LazyS3ObjectStore implements ObjectStore {
  readonly scheme = 's3' as const;
  private store: Promise<S3ObjectStore> | null = null;

  constructor(private readonly options: S3StoreOptions) {}

  /** The region and endpoint the store will use (as S3ObjectStore's, without loading the SDK). */
  get region(): string {
    return this.options.region ?? process.env['AWS_REGION'] ?? 'us-east-1';
  }

  get endpoint(): string | null {
    return this.options.endpoint ?? null;
  }

  /** True once the SDK is loaded (the first request). */
  get loaded(): boolean {
    return this.store !== null;
  }

  private real(): Promise<S3ObjectStore> {
    this.store ??= import('./s3-store.js').then((m) => new m.S3ObjectStore(this.options));
    return this.store;
  }

  async *list(dir: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    yield* (await this.real()).list(dir, options);
  }

  async head(location: string): Promise<ObjectInfo | null> {
    return (await this.real()).head(location);
  }

  async read(location: string, start?: number, end?: number): Promise<Uint8Array> {
    return (await this.real()).read(location, start, end);
  }

  async open(location: string, size?: number): Promise<AsyncBuffer> {
    return (await this.real()).open(location, size);
  }

  join(base: string, ...parts: string[]): string {
    return joinS3(base, ...parts);
  }

  /** Closes the SDK's keep-alive sockets when it was loaded (once it has, if it is loading). */
  close(): void {
    void this.store?.then((s) => s.close(), () => undefined);
  }
}
