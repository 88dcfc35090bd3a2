/**
 * Reads Delta deletion vectors (PROTOCOL.md "Deletion Vectors", "Deletion Vector Format",
 * "Deletion Vector File Storage Format"): the set of row indexes of one data file that are
 * logically deleted. Storage types:
 * - 'i' inline: `pathOrInlineDv` is the Z85 text of the serialized bitmap (`sizeInBytes` bytes);
 * - 'u' relative: `<random prefix><20 Z85 chars of a UUID>` → `<table>/<prefix>/deletion_vector_<uuid>.bin`;
 * - 'p' absolute: `pathOrInlineDv` is a URI, encoded like `add.path`.
 * A DV file is a version byte (1), then at `offset` (default 1, right after it) a big-endian
 * uint32 size, the serialized bitmap and a big-endian CRC-32 of it. The serialized bitmap is a
 * little-endian int32 magic number 1681511377 followed by a portable 64-bit RoaringBitmap (or
 * Delta's older native layout, magic 1681511376 big-endian, as in the spec's inline example).
 * Anything that does not check out is refused (DELETION_VECTOR_INVALID): serving deleted rows
 * would be wrong rows, not a degraded answer.
 */
import { MaltError } from '../../errors.js';
import type { ObjectStore } from '../object-store.js';
import type { DeletionVectorDescriptor } from '../source.js';
import { crc32 } from './crc32.js';
import { RoaringFormatError, readRoaring64, readRoaringNativeArray } from './roaring-portable.js';
import { normalizeTableUri, resolveDeltaPath } from './table-path.js';
import { z85Decode, z85DecodeUuid } from './z85.js';

export { deletionVectorId } from './actions.js';

export interface DeletedRows {
  has(rowIndex: number): boolean;
  readonly cardinality: number;
}

/** The portable RoaringBitmapArray format (little-endian int32), what Delta writers produce. */
export const DV_MAGIC = 1681511377;
/** Delta's older native RoaringBitmapArray format (big-endian int32), still accepted by Delta's reader. */
export const DV_MAGIC_NATIVE = 1681511376;
const DV_FILE_VERSION = 1;
/** Far above any real DV (a bitmap of every row of a huge file is a few MB); guards memory against a corrupt size. */
const MAX_DV_BYTES = 256 * 1024 * 1024;

function invalid(tableUri: string, where: string, why: string): MaltError {
  return new MaltError('DELETION_VECTOR_INVALID', `Delta table ${tableUri}: deletion vector ${where}: ${why}`);
}

/** The file a 'u' or 'p' descriptor points at. */
export function deletionVectorLocation(store: ObjectStore, tableRoot: string, dv: DeletionVectorDescriptor, tableUri: string): string {
  const root = normalizeTableUri(tableRoot);
  if (dv.storageType === 'p') {
    try {
      return resolveDeltaPath(store, root, dv.pathOrInlineDv, tableUri);
    } catch (err) {
      throw invalid(tableUri, JSON.stringify(dv.pathOrInlineDv), (err as Error).message);
    }
  }
  if (dv.storageType !== 'u') throw invalid(tableUri, 'inline', 'an inline deletion vector has no file');
  const text = dv.pathOrInlineDv;
  if (text.length < 20) throw invalid(tableUri, JSON.stringify(text), 'a relative path needs at least the 20-character Z85 UUID');
  let uuid: string;
  try {
    uuid = z85DecodeUuid(text.slice(-20));
  } catch (err) {
    throw invalid(tableUri, JSON.stringify(text), `the UUID is not valid Z85 (${(err as Error).message})`);
  }
  // Writers use a few random alphanumeric characters; anything that could leave the table root is refused.
  const prefix = text.slice(0, -20).split('/').filter((s) => s !== '');
  if (prefix.some((s) => s === '.' || s === '..')) throw invalid(tableUri, JSON.stringify(text), 'the random prefix leaves the table root');
  return store.join(root, ...prefix, `deletion_vector_${uuid}.bin`);
}

function checkDescriptor(dv: DeletionVectorDescriptor, tableUri: string, where: string): void {
  if (!Number.isSafeInteger(dv.sizeInBytes) || dv.sizeInBytes < 4 || dv.sizeInBytes > MAX_DV_BYTES) {
    throw invalid(tableUri, where, `sizeInBytes ${dv.sizeInBytes} is not a plausible bitmap size`);
  }
  if (!Number.isSafeInteger(dv.cardinality) || dv.cardinality < 0) throw invalid(tableUri, where, `cardinality ${dv.cardinality} is not a count`);
}

/** Magic number + 64-bit bitmap; checks the decoded cardinality against the descriptor's. */
function parseBitmap(bytes: Uint8Array, dv: DeletionVectorDescriptor, tableUri: string, where: string): DeletedRows {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const portable = view.getInt32(0, true) === DV_MAGIC;
  if (!portable && view.getInt32(0, false) !== DV_MAGIC_NATIVE) {
    throw invalid(tableUri, where, `bad magic number ${view.getInt32(0, true)} (expected ${DV_MAGIC}, the portable RoaringBitmapArray format)`);
  }
  let rows: DeletedRows;
  try {
    rows = portable ? readRoaring64(view, 4, bytes.byteLength) : readRoaringNativeArray(view, 4, bytes.byteLength);
  } catch (err) {
    if (err instanceof RoaringFormatError) throw invalid(tableUri, where, `the bitmap is corrupt: ${err.message}`);
    throw err;
  }
  if (rows.cardinality !== dv.cardinality) throw invalid(tableUri, where, `holds ${rows.cardinality} rows but the log says cardinality ${dv.cardinality}`);
  return rows;
}

function readInline(dv: DeletionVectorDescriptor, tableUri: string): DeletedRows {
  const where = 'inline';
  checkDescriptor(dv, tableUri, where);
  let bytes: Uint8Array;
  try {
    bytes = z85Decode(dv.pathOrInlineDv);
  } catch (err) {
    throw invalid(tableUri, where, `not valid Z85 (${(err as Error).message})`);
  }
  // Writers pad to a multiple of 4 bytes before encoding: exactly that padding may follow.
  if (bytes.length < dv.sizeInBytes || bytes.length - dv.sizeInBytes >= 4) {
    throw invalid(tableUri, where, `decodes to ${bytes.length} bytes but sizeInBytes is ${dv.sizeInBytes}`);
  }
  return parseBitmap(bytes.subarray(0, dv.sizeInBytes), dv, tableUri, where);
}

async function readFromFile(store: ObjectStore, tableRoot: string, dv: DeletionVectorDescriptor, tableUri: string): Promise<DeletedRows> {
  const location = deletionVectorLocation(store, tableRoot, dv, tableUri);
  checkDescriptor(dv, tableUri, location);
  const offset = dv.offset ?? 1;
  if (!Number.isSafeInteger(offset) || offset < 1) throw invalid(tableUri, location, `offset ${offset} is before the first deletion vector (1)`);
  const end = offset + 4 + dv.sizeInBytes + 4;
  // No HEAD first: Spark packs the DVs of many data files into one file, and a load reads one DV
  // per data file, so a HEAD each would double the requests. A short read tells a truncated file;
  // the HEAD is only asked when the read fails, to say whether the file exists.
  let head: Uint8Array;
  let body: Uint8Array;
  try {
    // One ranged read from 0 when the DV is near the start (the usual case), else two small ones.
    [head, body] = offset <= 64 * 1024
      ? await store.read(location, 0, end).then((b) => [b, b.subarray(offset)] as const)
      : await Promise.all([store.read(location, 0, 1), store.read(location, offset, end)]);
  } catch (err) {
    if ((await store.head(location).catch(() => undefined)) === null) throw invalid(tableUri, location, 'the file does not exist');
    throw err;
  }
  if (head.length < 1 || body.length < end - offset) {
    throw invalid(tableUri, location, `the file is too short for a ${dv.sizeInBytes}-byte deletion vector at offset ${offset} (truncated?)`);
  }
  if (head[0] !== DV_FILE_VERSION) throw invalid(tableUri, location, `unknown format version ${String(head[0])} (expected ${DV_FILE_VERSION})`);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const size = view.getUint32(0, false);
  if (size !== dv.sizeInBytes) throw invalid(tableUri, location, `the size at offset ${offset} is ${size} but the log says sizeInBytes ${dv.sizeInBytes}`);
  const bitmap = body.subarray(4, 4 + size);
  const stored = view.getUint32(4 + size, false);
  const actual = crc32(bitmap);
  if (stored !== actual) throw invalid(tableUri, location, `CRC-32 mismatch at offset ${offset} (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the file is corrupt`);
  return parseBitmap(bitmap, dv, tableUri, location);
}

/**
 * Reads and verifies one deletion vector (inline Z85, relative 'u' UUID path, absolute 'p').
 * Throws MaltError('DELETION_VECTOR_INVALID', …) naming the table and file on bad magic,
 * version, size, CRC, or cardinality mismatch. `tableRoot` is the table's location in `store`
 * ('u' paths are relative to it); `tableUri` is used in messages.
 */
export async function readDeletionVector(store: ObjectStore, tableRoot: string, dv: DeletionVectorDescriptor, tableUri: string): Promise<DeletedRows> {
  if (dv.storageType === 'i') return readInline(dv, tableUri);
  return readFromFile(store, tableRoot, dv, tableUri);
}
