/**
 * Delta deletion vectors (PROTOCOL.md "Deletion Vectors", "Deletion Vector Format"): the real DVs
 * Spark and delta-rs wrote decode to the rows their DELETE predicates hit; corrupt or missing DV
 * files are refused with DELETION_VECTOR_INVALID; Z85, CRC-32 and every Roaring container kind
 * (array, bitmap, run) decode per the specs, using bitmaps built here byte by byte.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { afterAll, describe, expect, it } from 'vitest';
import { MaltError } from '../src/errors.js';
import { crc32, crc32Fallback } from '../src/sources/delta/crc32.js';
import { type DeletedRows, deletionVectorId, deletionVectorLocation, readDeletionVector } from '../src/sources/delta/deletion-vector.js';
import { resolveDeltaSnapshot } from '../src/sources/delta/delta-table.js';
import { z85Decode, z85DecodeUuid, z85Encode } from '../src/sources/delta/z85.js';
import { LocalObjectStore } from '../src/sources/local-store.js';
import type { DeletionVectorDescriptor } from '../src/sources/source.js';

const TESTDATA = path.resolve(import.meta.dirname, '../../shared/testdata');
const store = new LocalObjectStore();
const tmpRoot = mkdtempSync(path.join(process.env['MALT_TEST_TMP'] ?? os.tmpdir(), 'malt-dv-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

function members(rows: DeletedRows, upTo: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < upTo; i++) if (rows.has(i)) out.push(i);
  return out;
}

async function expectInvalid(p: Promise<unknown>, ...fragments: string[]): Promise<MaltError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(MaltError);
  const m = err as MaltError;
  expect(m.code).toBe('DELETION_VECTOR_INVALID');
  for (const f of fragments) expect(m.message).toContain(f);
  return m;
}

// ---- Builders for the byte formats, written from the specs (RoaringFormatSpec, PROTOCOL.md) ----

type Spec32 = { key: number; kind: 'array' | 'bitmap' | 'run'; values: number[] };

/** Portable 32-bit Roaring serialization of the given containers (values are the low 16 bits). */
function portable32(containers: Spec32[]): Buffer {
  const hasRun = containers.some((c) => c.kind === 'run');
  const n = containers.length;
  const parts: Buffer[] = [];
  const header: number[] = [];
  if (hasRun) {
    const cookie = Buffer.alloc(4);
    cookie.writeUInt32LE((12347 | ((n - 1) << 16)) >>> 0);
    const flags = Buffer.alloc(Math.ceil(n / 8));
    containers.forEach((c, i) => { if (c.kind === 'run') flags[i >> 3] = (flags[i >> 3] as number) | (1 << (i & 7)); });
    parts.push(cookie, flags);
  } else {
    const cookie = Buffer.alloc(8);
    cookie.writeUInt32LE(12346, 0);
    cookie.writeUInt32LE(n, 4);
    parts.push(cookie);
  }
  const desc = Buffer.alloc(4 * n);
  containers.forEach((c, i) => { desc.writeUInt16LE(c.key, 4 * i); desc.writeUInt16LE(c.values.length - 1, 4 * i + 2); });
  parts.push(desc);
  const bodies = containers.map((c) => {
    if (c.kind === 'array') {
      const b = Buffer.alloc(2 * c.values.length);
      c.values.forEach((v, i) => b.writeUInt16LE(v, 2 * i));
      return b;
    }
    if (c.kind === 'bitmap') {
      const b = Buffer.alloc(8192);
      for (const v of c.values) b[v >> 3] = (b[v >> 3] as number) | (1 << (v & 7));
      return b;
    }
    const runs: [number, number][] = [];
    for (const v of c.values) {
      const last = runs[runs.length - 1];
      if (last && v === last[0] + last[1] + 1) last[1] += 1;
      else runs.push([v, 0]);
    }
    const b = Buffer.alloc(2 + 4 * runs.length);
    b.writeUInt16LE(runs.length, 0);
    runs.forEach(([s, l], i) => { b.writeUInt16LE(s, 2 + 4 * i); b.writeUInt16LE(l, 4 + 4 * i); });
    return b;
  });
  const withOffsets = !hasRun || n >= 4;
  if (withOffsets) {
    const headerLen = parts.reduce((a, p) => a + p.length, 0) + 4 * n;
    const offsets = Buffer.alloc(4 * n);
    let at = headerLen;
    bodies.forEach((b, i) => { offsets.writeUInt32LE(at, 4 * i); at += b.length; });
    parts.push(offsets);
  }
  void header;
  return Buffer.concat([...parts, ...bodies]);
}

/** Delta's serialized DV: LE magic 1681511377 + portable 64-bit bitmap (uint64 count, per bucket uint32 key + 32-bit bitmap). */
function portableDv(buckets: { high: number; containers: Spec32[] }[], magic = 1681511377): Buffer {
  const head = Buffer.alloc(12);
  head.writeInt32LE(magic, 0);
  head.writeBigUInt64LE(BigInt(buckets.length), 4);
  const parts: Buffer[] = [head];
  for (const b of buckets) {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(b.high);
    parts.push(key, portable32(b.containers));
  }
  return Buffer.concat(parts);
}

/** A DV file: version byte 1, then per DV: BE uint32 size, the bitmap, BE CRC-32 of the bitmap. */
function dvFile(bitmaps: Buffer[]): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [Buffer.from([1])];
  const offsets: number[] = [];
  let at = 1;
  for (const bm of bitmaps) {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(bm.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(bm) >>> 0);
    parts.push(size, bm, crc);
    offsets.push(at);
    at += 8 + bm.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

const UUID_Z85 = 'IjB3V2d3#qUP%s94R0WF'; // = 899cef78-06b3-4c14-b024-03860e62cd40

function writeDv(dir: string, bytes: Buffer): string {
  const file = path.join(dir, `deletion_vector_${z85DecodeUuid(UUID_Z85)}.bin`);
  writeFileSync(file, bytes);
  return file;
}

function freshDir(): string {
  return mkdtempSync(path.join(tmpRoot, 't-'));
}

const range = (from: number, to: number, step = 1): number[] => Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step);

describe('Z85', () => {
  it('decodes and encodes the ZeroMQ RFC 32 test vector', () => {
    const bytes = Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect([...z85Decode('HelloWorld')]).toEqual([...bytes]);
  });

  it('round-trips arbitrary bytes, including all-zero and all-0xff groups', () => {
    const bytes = Uint8Array.from([0, 0, 0, 0, 255, 255, 255, 255, ...range(0, 256).map((i) => (i * 37) & 0xff)]);
    const text = z85Encode(bytes);
    expect(text.startsWith('00000%nSc0')).toBe(true);
    expect([...z85Decode(text)]).toEqual([...bytes]);
  });

  it('recovers the spec example UUID and random prefix of a relative DV path', () => {
    // PROTOCOL.md "JSON Example 1": "ab^-aqEH.-t@S}K{vb[*k^" under s3://mytable/ → ab/deletion_vector_d2c639aa-….bin
    expect(z85DecodeUuid('^-aqEH.-t@S}K{vb[*k^')).toBe('d2c639aa-8816-431a-aaf6-d3fe2512ff61');
    const dv: DeletionVectorDescriptor = { storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 6 };
    expect(deletionVectorLocation(store, '/lake/mytable', dv, 't')).toBe('/lake/mytable/ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin');
    const noPrefix = { ...dv, pathOrInlineDv: UUID_Z85 };
    expect(deletionVectorLocation(store, '/lake/t', noPrefix, 't')).toBe('/lake/t/deletion_vector_899cef78-06b3-4c14-b024-03860e62cd40.bin');
  });

  it('a prefix that would leave the table root is refused', () => {
    const dv: DeletionVectorDescriptor = { storageType: 'u', pathOrInlineDv: `../${UUID_Z85}`, offset: 1, sizeInBytes: 36, cardinality: 2 };
    expect(() => deletionVectorLocation(store, '/lake/t', dv, 't')).toThrow(/leaves the table root/);
    expect(() => deletionVectorLocation(store, '/lake/t', { ...dv, pathOrInlineDv: 'short' }, 't')).toThrow(/20-character/);
  });

  it('refuses text that is not Z85', () => {
    expect(() => z85Decode('Hello')).not.toThrow();
    expect(() => z85Decode('Hell')).toThrow(RangeError);
    expect(() => z85Decode('Hell~')).toThrow(RangeError);
    expect(() => z85Decode('#####')).toThrow(/above 2\^32/);
  });
});

describe('CRC-32', () => {
  it('matches the standard check value and the table fallback', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Fallback(check)).toBe(0xcbf43926);
    const random = Uint8Array.from(range(0, 5000).map((i) => (i * 7919 + 13) & 0xff));
    expect(crc32Fallback(random)).toBe(crc32(random));
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('uses node:zlib crc32 on this runtime (Node >= 20.15)', () => {
    expect(typeof (zlib as { crc32?: unknown }).crc32).toBe('function');
  });
});

describe('deletionVectorId', () => {
  it('is storageType + pathOrInlineDv [+ @offset] (PROTOCOL.md "Derived Fields" uniqueId)', () => {
    expect(deletionVectorId({ storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 6 })).toBe('uab^-aqEH.-t@S}K{vb[*k^@4');
    expect(deletionVectorId({ storageType: 'i', pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L', offset: null, sizeInBytes: 40, cardinality: 6 })).toBe('iwi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L');
  });
});

describe('inline deletion vectors', () => {
  it('decodes the spec inline example to rows 3, 4, 7, 11, 18, 29', async () => {
    const dv: DeletionVectorDescriptor = { storageType: 'i', pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L', offset: null, sizeInBytes: 40, cardinality: 6 };
    const rows = await readDeletionVector(store, '/nowhere', dv, 'inline-table');
    expect(rows.cardinality).toBe(6);
    expect(members(rows, 100)).toEqual([3, 4, 7, 11, 18, 29]);
  });

  it('decodes a portable inline bitmap whose size is not a multiple of 4 (Z85 padding)', async () => {
    const bm = portableDv([{ high: 0, containers: [{ key: 0, kind: 'array', values: [1, 5, 9] }] }]);
    expect(bm.length % 4).not.toBe(0);
    const padded = Buffer.concat([bm, Buffer.alloc((4 - (bm.length % 4)) % 4)]);
    const dv: DeletionVectorDescriptor = { storageType: 'i', pathOrInlineDv: z85Encode(padded), offset: null, sizeInBytes: bm.length, cardinality: 3 };
    expect(members(await readDeletionVector(store, '/nowhere', dv, 't'), 20)).toEqual([1, 5, 9]);
    await expectInvalid(readDeletionVector(store, '/nowhere', { ...dv, sizeInBytes: bm.length + 8 }, 't'), 'inline', 'sizeInBytes');
    await expectInvalid(readDeletionVector(store, '/nowhere', { ...dv, cardinality: 4 }, 't'), 'cardinality 4');
    await expectInvalid(readDeletionVector(store, '/nowhere', { ...dv, pathOrInlineDv: dv.pathOrInlineDv.slice(1) }, 't'), 'Z85');
  });
});

describe('deletion vectors written by Spark and delta-rs', () => {
  const tables = [
    // table, DVs in the latest snapshot, their total cardinality (README: expected rows = rows in files − this)
    ['delta-spark/basic-dv-no-checkpoint', 1, 2],
    ['delta-spark/basic-dv-with-checkpoint', 2, 46],
    ['delta-spark/dv-partitioned-with-checkpoint', 2, 2],
    ['delta-spark/dv-with-columnmapping', 2, 2],
    ['delta-spark/log-replay-dv-key-cases', 1, 3],
    ['delta/table-with-dv-small', 1, 2],
    ['delta/table_with_deletion_logs', 1, 2],
  ] as const;

  it.each(tables)('%s: every live DV decodes with the cardinality its descriptor states', async (table, dvCount, total) => {
    const root = path.join(TESTDATA, table);
    const snap = await resolveDeltaSnapshot(store, root);
    const withDv = snap.files.filter((f) => f.deletionVector !== null);
    expect(withDv).toHaveLength(dvCount);
    let sum = 0;
    for (const f of withDv) {
      const dv = f.deletionVector as DeletionVectorDescriptor;
      const rows = await readDeletionVector(store, root, dv, root);
      expect(rows.cardinality).toBe(dv.cardinality);
      sum += rows.cardinality;
    }
    expect(sum).toBe(total);
  });

  it('DV descriptors read from checkpoint Parquet (no commits after it) decode too', async () => {
    for (const [name, version, dvs, total] of [['delta-spark/dv-partitioned-with-checkpoint', 10, 3, 6], ['delta-spark/basic-dv-with-checkpoint', 40, 2, 40]] as const) {
      const root = path.join(TESTDATA, name);
      const snap = await resolveDeltaSnapshot(store, root, { version });
      expect([snap.logSegment.checkpointVersion, snap.logSegment.commitsRead]).toEqual([version, 0]);
      const descriptors = snap.files.flatMap((f) => (f.deletionVector === null ? [] : [f.deletionVector]));
      expect(descriptors).toHaveLength(dvs);
      let sum = 0;
      for (const dv of descriptors) {
        expect([typeof dv.offset, typeof dv.cardinality, typeof dv.sizeInBytes]).toEqual(['number', 'number', 'number']);
        sum += (await readDeletionVector(store, root, dv, root)).cardinality;
      }
      expect(sum).toBe(total);
    }
  });

  it('every DV any commit of basic-dv-with-checkpoint ever wrote decodes (46 DELETEs, one row each)', async () => {
    const root = path.join(TESTDATA, 'delta-spark/basic-dv-with-checkpoint');
    const logDir = path.join(root, '_delta_log');
    const seen = new Map<string, DeletionVectorDescriptor>();
    for (const name of readdirSync(logDir).filter((n) => n.endsWith('.json'))) {
      for (const line of readFileSync(path.join(logDir, name), 'utf8').split('\n')) {
        const dv = line.trim() === '' ? undefined : (JSON.parse(line) as { add?: { deletionVector?: DeletionVectorDescriptor } }).add?.deletionVector;
        if (dv) seen.set(deletionVectorId({ ...dv, offset: dv.offset ?? null }), { ...dv, offset: dv.offset ?? null });
      }
    }
    expect(seen.size).toBe(46);
    for (const dv of seen.values()) expect((await readDeletionVector(store, root, dv, root)).cardinality).toBe(dv.cardinality);
  });

  // The rows a DV marks are the rows the DELETE predicate in commitInfo matched.
  it.each([
    ['delta-spark/basic-dv-no-checkpoint', 'id', (v: bigint | number) => Number(v) < 2],
    ['delta-spark/log-replay-dv-key-cases', 'id', (v: bigint | number) => [0, 7, 14].includes(Number(v))],
    ['delta/table-with-dv-small', 'value', (v: bigint | number) => [0, 9].includes(Number(v))],
  ] as const)('%s: the DV marks exactly the rows its DELETE predicate matched', async (table, column, deleted) => {
    const root = path.join(TESTDATA, table);
    const snap = await resolveDeltaSnapshot(store, root);
    let checked = 0;
    for (const f of snap.files) {
      const data = await parquetReadObjects({ file: await store.open(f.location, f.size), columns: [column], compressors });
      const rows = f.deletionVector === null ? null : await readDeletionVector(store, root, f.deletionVector, root);
      data.forEach((row, i) => {
        expect(rows?.has(i) ?? false).toBe(deleted((row as Record<string, bigint | number>)[column] as bigint | number));
        checked += 1;
      });
      if (rows !== null) expect(rows.has(data.length)).toBe(false);
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe('corrupt and missing DV files are refused', () => {
  const source = path.join(TESTDATA, 'delta-spark/basic-dv-no-checkpoint');
  const original = readFileSync(path.join(source, 'deletion_vector_899cef78-06b3-4c14-b024-03860e62cd40.bin'));
  const dv: DeletionVectorDescriptor = { storageType: 'u', pathOrInlineDv: UUID_Z85, offset: 1, sizeInBytes: 36, cardinality: 2 };

  it('the untouched copy decodes (rows 0 and 1)', async () => {
    const dir = freshDir();
    copyFileSync(path.join(source, 'deletion_vector_899cef78-06b3-4c14-b024-03860e62cd40.bin'), path.join(dir, 'deletion_vector_899cef78-06b3-4c14-b024-03860e62cd40.bin'));
    expect(members(await readDeletionVector(store, dir, dv, dir), 10)).toEqual([0, 1]);
  });

  it("storageType 'p': an absolute file: URI, percent-decoded once, or a plain absolute path", async () => {
    const dir = path.join(freshDir(), 'dv dir %41');
    mkdirSync(dir);
    const file = path.join(dir, 'deletion_vector_custom.bin');
    copyFileSync(path.join(source, 'deletion_vector_899cef78-06b3-4c14-b024-03860e62cd40.bin'), file);
    const uri = pathToFileURL(file).href;
    expect(uri).toContain('dv%20dir%20%2541');
    const abs: DeletionVectorDescriptor = { ...dv, storageType: 'p', pathOrInlineDv: uri };
    expect(deletionVectorLocation(store, '/elsewhere', abs, 't')).toBe(file);
    expect(members(await readDeletionVector(store, '/elsewhere', abs, 't'), 10)).toEqual([0, 1]);
    const missing = { ...abs, pathOrInlineDv: pathToFileURL(path.join(dir, 'gone.bin')).href };
    await expectInvalid(readDeletionVector(store, '/elsewhere', missing, 'my-table'), 'my-table', path.join(dir, 'gone.bin'), 'does not exist');
    await expectInvalid(readDeletionVector(store, '/elsewhere', { ...abs, pathOrInlineDv: 's3://bucket/dv.bin' }, 'my-table'), 'S3');
  });

  it('a flipped bitmap byte fails the CRC-32 check, naming table and file', async () => {
    const dir = freshDir();
    const bytes = Buffer.from(original);
    bytes[30] = (bytes[30] as number) ^ 0x01;
    const file = writeDv(dir, bytes);
    await expectInvalid(readDeletionVector(store, dir, dv, 'my-table'), 'my-table', file, 'CRC-32');
  });

  it('a wrong magic number is refused even with a matching CRC', async () => {
    const dir = freshDir();
    const bitmap = Buffer.from(original.subarray(5, 5 + 36));
    bitmap.writeInt32LE(1681511378, 0);
    const file = writeDv(dir, dvFile([bitmap]).bytes);
    await expectInvalid(readDeletionVector(store, dir, dv, 'my-table'), file, 'magic');
  });

  it('a truncated file is refused', async () => {
    const dir = freshDir();
    const file = writeDv(dir, original);
    truncateSync(file, original.length - 3);
    await expectInvalid(readDeletionVector(store, dir, dv, 'my-table'), file, 'truncated');
  });

  it('a missing file is refused', async () => {
    const dir = freshDir();
    await expectInvalid(readDeletionVector(store, dir, dv, 'my-table'), 'my-table', 'deletion_vector_899cef78-06b3-4c14-b024-03860e62cd40.bin', 'does not exist');
  });

  it('an unknown file format version is refused', async () => {
    const dir = freshDir();
    const bytes = Buffer.from(original);
    bytes[0] = 2;
    writeDv(dir, bytes);
    await expectInvalid(readDeletionVector(store, dir, dv, 't'), 'version 2');
  });

  it('a descriptor whose size, offset or cardinality disagrees with the file is refused', async () => {
    const dir = freshDir();
    writeDv(dir, original);
    await expectInvalid(readDeletionVector(store, dir, { ...dv, sizeInBytes: 32 }, 't'), 'sizeInBytes 32');
    await expectInvalid(readDeletionVector(store, dir, { ...dv, cardinality: 3 }, 't'), 'cardinality 3');
    await expectInvalid(readDeletionVector(store, dir, { ...dv, offset: 2 }, 't'));
    await expectInvalid(readDeletionVector(store, dir, { ...dv, offset: 0 }, 't'), 'offset 0');
  });

  it('a corrupt bitmap with a valid CRC is refused (unsorted array values)', async () => {
    const dir = freshDir();
    const bitmap = portableDv([{ high: 0, containers: [{ key: 0, kind: 'array', values: [5, 3] }] }]);
    writeDv(dir, dvFile([bitmap]).bytes);
    await expectInvalid(readDeletionVector(store, dir, { ...dv, sizeInBytes: bitmap.length }, 't'), 'not strictly increasing');
  });
});

describe('Roaring containers and 64-bit buckets', () => {
  async function decode(buckets: { high: number; containers: Spec32[] }[], extra: Buffer[] = []): Promise<DeletedRows> {
    const dir = freshDir();
    const bitmap = portableDv(buckets);
    const cardinality = buckets.reduce((a, b) => a + b.containers.reduce((c, k) => c + k.values.length, 0), 0);
    // Put another DV first so this one sits at a non-trivial offset, as in multi-DV files.
    const { bytes, offsets } = dvFile([...extra, bitmap]);
    writeDv(dir, bytes);
    return readDeletionVector(store, dir, { storageType: 'u', pathOrInlineDv: UUID_Z85, offset: offsets[offsets.length - 1] as number, sizeInBytes: bitmap.length, cardinality }, 't');
  }

  it('array, bitmap and run containers in one bitmap (no offset header below 4 containers with runs)', async () => {
    const evens = range(0, 20000, 2); // 10000 values > 4096 → bitmap container
    const runs = [...range(100, 300), ...range(1000, 1001), ...range(65000, 65536)];
    const rows = await decode([{ high: 0, containers: [
      { key: 0, kind: 'array', values: [3, 4, 7] },
      { key: 1, kind: 'bitmap', values: evens },
      { key: 5, kind: 'run', values: runs },
    ] }]);
    expect(rows.cardinality).toBe(3 + evens.length + runs.length);
    expect(members(rows, 10)).toEqual([3, 4, 7]);
    expect(rows.has(65536 + 0)).toBe(true);
    expect(rows.has(65536 + 19998)).toBe(true);
    expect(rows.has(65536 + 19999)).toBe(false);
    expect(rows.has(65536 + 20000)).toBe(false);
    const base = 5 * 65536;
    expect([99, 100, 299, 300, 1000, 1001, 64999, 65000, 65535].map((v) => rows.has(base + v))).toEqual([false, true, true, false, true, false, false, true, true]);
    expect(rows.has(2 * 65536 + 3)).toBe(false);
  });

  it('run containers with the offset header (4 or more containers) and an extra DV before them in the file', async () => {
    const other = portableDv([{ high: 0, containers: [{ key: 0, kind: 'array', values: [42] }] }]);
    const containers: Spec32[] = [0, 1, 2, 3, 4].map((key) => ({ key, kind: key % 2 === 0 ? 'run' : 'array', values: key % 2 === 0 ? range(10, 20) : [key] }));
    const rows = await decode([{ high: 0, containers }], [other]);
    expect(rows.cardinality).toBe(3 * 10 + 2);
    expect(rows.has(2 * 65536 + 15)).toBe(true);
    expect(rows.has(3 * 65536 + 3)).toBe(true);
    expect(rows.has(3 * 65536 + 15)).toBe(false);
    expect(rows.has(42)).toBe(false);
  });

  it('buckets above 2^32 address row indexes high * 2^32 + low; empty buckets are allowed', async () => {
    const rows = await decode([
      { high: 0, containers: [] },
      { high: 1, containers: [{ key: 0, kind: 'array', values: [7] }] },
      { high: 2 ** 21 - 1, containers: [{ key: 0xffff, kind: 'array', values: [0xffff] }] },
    ]);
    expect(rows.cardinality).toBe(2);
    expect(rows.has(2 ** 32 + 7)).toBe(true);
    expect(rows.has(7)).toBe(false);
    expect(rows.has(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(rows.has(-1)).toBe(false);
    expect(rows.has(1.5)).toBe(false);
  });

  it('row indexes at or above 2^53 are refused', async () => {
    await expectInvalid(decode([{ high: 2 ** 21, containers: [{ key: 0, kind: 'array', values: [0] }] }]), '2^53');
  });

  it('a header cardinality that disagrees with a bitmap or run container is refused', async () => {
    const dir = freshDir();
    const good = portableDv([{ high: 0, containers: [{ key: 0, kind: 'bitmap', values: range(0, 5000) }] }]);
    const bad = Buffer.from(good);
    // descriptive header of container 0 is at 4 (magic) + 8 (count) + 4 (key) + 8 (cookie, size): cardinality-1 at +2.
    bad.writeUInt16LE(5000, 4 + 8 + 4 + 8 + 2);
    writeDv(dir, dvFile([bad]).bytes);
    await expectInvalid(readDeletionVector(store, dir, { storageType: 'u', pathOrInlineDv: UUID_Z85, offset: 1, sizeInBytes: bad.length, cardinality: 5001 }, 't'), 'header says 5001');
  });
});
