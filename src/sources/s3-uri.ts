/**
 * s3:// locations: `s3://bucket/key`. Keys are kept exactly as given (already decoded, no
 * normalisation): S3 keys are opaque strings, so `a//b` and `a/./b` are distinct objects.
 */
import { MaltError } from '../errors.js';

export interface S3Location {
  readonly bucket: string;
  /** '' for the bucket root. */
  readonly key: string;
}

/** Bucket names, loosely (S3 allows 3–63 of a-z 0-9 . -; legacy buckets and S3-compatible stores allow more): enough to catch typos. */
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export function parseS3Uri(uri: string): S3Location {
  if (!uri.startsWith('s3://')) throw new MaltError('CONFIG_INVALID', `not an s3:// URI: ${JSON.stringify(uri)}`);
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  if (!BUCKET.test(bucket)) throw new MaltError('CONFIG_INVALID', `${JSON.stringify(uri)}: ${JSON.stringify(bucket)} is not a valid S3 bucket name`);
  return { bucket, key: slash === -1 ? '' : rest.slice(slash + 1) };
}

export function formatS3Uri(loc: S3Location): string {
  return `s3://${loc.bucket}/${loc.key}`;
}

/** The key prefix that lists what is "inside" a directory-like key: '' or 'a/b/'. */
export function dirPrefix(key: string): string {
  const trimmed = key.replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/** join('s3://b/t/', '_delta_log', 'x.json') = 's3://b/t/_delta_log/x.json'; empty parts are skipped. */
export function joinS3(base: string, ...parts: string[]): string {
  const { bucket, key } = parseS3Uri(base);
  const segments = [key.replace(/\/+$/, ''), ...parts.map((p) => p.replace(/^\/+|\/+$/g, ''))].filter((s) => s !== '');
  return formatS3Uri({ bucket, key: segments.join('/') });
}
