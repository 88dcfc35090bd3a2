/**
 * Where lake bytes live: local disk or S3(-compatible). Every source (plain Parquet folders,
 * Delta tables) reads through this interface, so each works on both. Locations are full URIs
 * (`s3://bucket/key`) or absolute local paths; `join` builds child locations the store's way.
 */

/** hyparquet's AsyncBuffer: a file of known length read by ranges. */
export interface AsyncBuffer {
  readonly byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer> | ArrayBuffer;
}

export interface ObjectInfo {
  /** Full location (absolute path or s3:// URI) of the object. */
  readonly location: string;
  readonly size: number;
  /** Last modification, ms since the epoch (truncated). */
  readonly mtimeMs: number;
  /** S3 ETag (quotes stripped); on local disk inode + ns mtime + ns ctime (changes on every write); null when unknown. */
  readonly etag: string | null;
}

export interface ListOptions {
  /** List everything below `dir`, not only its direct children (default false). */
  readonly recursive?: boolean;
  /**
   * Only entries whose location sorts after this full location (S3 StartAfter). Lets the Delta
   * reader list `_delta_log/` from a checkpoint on instead of from version 0.
   */
  readonly startAfter?: string;
}

export interface ObjectStore {
  /** 'file' or 's3': for messages and fingerprints. */
  readonly scheme: 'file' | 's3';
  /**
   * Objects (files, never directories) under `dir`, sorted by location (byte order). Paged
   * under the hood on S3; a missing directory yields nothing.
   */
  list(dir: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Size and mtime of one object, or null when it does not exist. */
  head(location: string): Promise<ObjectInfo | null>;
  /** Bytes [start, end) of an object (a ranged GET on S3); the whole object when both are omitted. */
  read(location: string, start?: number, end?: number): Promise<Uint8Array>;
  /** An AsyncBuffer over one object for hyparquet; `size` skips the HEAD when it is known. */
  open(location: string, size?: number): Promise<AsyncBuffer>;
  /** A child location: join('s3://b/t', '_delta_log') = 's3://b/t/_delta_log'. */
  join(base: string, ...parts: string[]): string;
}
