/**
 * Decoder for the portable RoaringBitmap serialization (RoaringFormatSpec), 32-bit bitmaps and
 * the 64-bit extension Delta deletion vectors use ("Deletion Vector Format"): a little-endian
 * uint64 count of buckets, each a uint32 high key followed by one 32-bit portable bitmap.
 * Also Delta's older "native" RoaringBitmapArray layout (magic 1681511376, big-endian counts,
 * bucket key = position), which the spec's own inline example (PROTOCOL.md "JSON Example 3")
 * uses and Delta's reference reader still accepts.
 * Every structural rule is checked (cookie, sizes, offsets, sorted keys and values,
 * cardinalities): a bitmap that does not decode exactly is refused, never half-read.
 */

const SERIAL_COOKIE_NO_RUNCONTAINER = 12346;
const SERIAL_COOKIE = 12347;
/** With run containers, the offset header is only present from this many containers on. */
const NO_OFFSET_THRESHOLD = 4;
const ARRAY_MAX = 4096;
const BITMAP_BYTES = 8192;
const TWO_32 = 4294967296;
/** Bucket keys at or above this hold row indexes >= 2^53, which a JS number cannot hold exactly. */
export const MAX_BUCKET_KEY = 2 ** 21 - 1;

/** The bytes are not a valid portable Roaring bitmap (the caller turns this into a MaltError). */
export class RoaringFormatError extends Error {}

type Container =
  | { readonly kind: 'array'; readonly values: Uint16Array }
  | { readonly kind: 'bitmap'; readonly bits: Uint8Array }
  /** Pairs (start, lengthMinusOne). */
  | { readonly kind: 'run'; readonly runs: Uint16Array };

const POPCOUNT8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + (t[i >> 1] as number);
  return t;
})();

function searchU16(sorted: Uint16Array, value: number, stride = 1): number {
  // Index (in elements of `stride`) of the last entry <= value, or -1.
  let lo = 0;
  let hi = sorted.length / stride - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid * stride] as number) <= value) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function containerHas(c: Container, low16: number): boolean {
  if (c.kind === 'bitmap') return (((c.bits[low16 >>> 3] as number) >>> (low16 & 7)) & 1) === 1;
  if (c.kind === 'array') {
    const i = searchU16(c.values, low16);
    return i >= 0 && c.values[i] === low16;
  }
  const r = searchU16(c.runs, low16, 2);
  return r >= 0 && low16 <= (c.runs[2 * r] as number) + (c.runs[2 * r + 1] as number);
}

function* containerValues(c: Container): Generator<number> {
  if (c.kind === 'array') yield* c.values;
  else if (c.kind === 'run') {
    for (let i = 0; i < c.runs.length; i += 2) {
      const start = c.runs[i] as number;
      for (let v = start; v <= start + (c.runs[i + 1] as number); v++) yield v;
    }
  } else {
    for (let b = 0; b < BITMAP_BYTES; b++) {
      const byte = c.bits[b] as number;
      if (byte !== 0) for (let bit = 0; bit < 8; bit++) if ((byte >>> bit) & 1) yield b * 8 + bit;
    }
  }
}

/** A 32-bit Roaring bitmap as read from its portable form. */
export class RoaringBitmap32 {
  // Readers ask in row order: remember the last 16-bit chunk looked up (null = not in the bitmap).
  private lastHigh = -1;
  private lastContainer: Container | null = null;

  constructor(
    private readonly keys: Uint16Array,
    private readonly containers: readonly Container[],
    readonly cardinality: number,
  ) {}

  has(value: number): boolean {
    const high = value >>> 16;
    if (high !== this.lastHigh) {
      const i = searchU16(this.keys, high);
      this.lastHigh = high;
      this.lastContainer = i >= 0 && this.keys[i] === high ? (this.containers[i] as Container) : null;
    }
    return this.lastContainer !== null && containerHas(this.lastContainer, value & 0xffff);
  }

  *values(): Generator<number> {
    for (let i = 0; i < this.containers.length; i++) {
      const high = (this.keys[i] as number) * 65536;
      for (const low of containerValues(this.containers[i] as Container)) yield high + low;
    }
  }
}

class Reader {
  pos: number;
  constructor(readonly view: DataView, start: number, readonly end: number) {
    this.pos = start;
  }
  need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) throw new RoaringFormatError(`truncated: ${what} needs ${n} bytes at ${this.pos}, ${Math.max(0, this.end - this.pos)} left`);
  }
  u16(): number {
    this.need(2, 'a uint16');
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4, 'a uint32');
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
}

function readArray(r: Reader, cardinality: number, key: number): Container {
  r.need(cardinality * 2, `array container ${key}`);
  const values = new Uint16Array(cardinality);
  for (let j = 0; j < cardinality; j++) {
    values[j] = r.u16();
    if (j > 0 && (values[j] as number) <= (values[j - 1] as number)) throw new RoaringFormatError(`array container ${key} is not strictly increasing`);
  }
  return { kind: 'array', values };
}

function readBitmap(r: Reader, cardinality: number, key: number): Container {
  r.need(BITMAP_BYTES, `bitmap container ${key}`);
  const bits = new Uint8Array(r.view.buffer, r.view.byteOffset + r.pos, BITMAP_BYTES).slice();
  r.pos += BITMAP_BYTES;
  let count = 0;
  for (let b = 0; b < BITMAP_BYTES; b++) count += POPCOUNT8[bits[b] as number] as number;
  if (count !== cardinality) throw new RoaringFormatError(`bitmap container ${key} holds ${count} values, its header says ${cardinality}`);
  return { kind: 'bitmap', bits };
}

function readRuns(r: Reader, cardinality: number, key: number): Container {
  const n = r.u16();
  r.need(n * 4, `run container ${key}`);
  const runs = new Uint16Array(n * 2);
  let count = 0;
  let prevEnd = -1;
  for (let j = 0; j < n; j++) {
    const start = r.u16();
    const lengthMinusOne = r.u16();
    if (start <= prevEnd) throw new RoaringFormatError(`run container ${key} has overlapping or unsorted runs`);
    if (start + lengthMinusOne > 0xffff) throw new RoaringFormatError(`run container ${key} has a run past 65535`);
    runs[2 * j] = start;
    runs[2 * j + 1] = lengthMinusOne;
    prevEnd = start + lengthMinusOne;
    count += lengthMinusOne + 1;
  }
  if (count !== cardinality) throw new RoaringFormatError(`run container ${key} holds ${count} values, its header says ${cardinality}`);
  return { kind: 'run', runs };
}

/** Reads one portable 32-bit bitmap starting at `start`; returns it and the position after it. */
export function readRoaring32(view: DataView, start: number, end: number): { bitmap: RoaringBitmap32; next: number } {
  const r = new Reader(view, start, end);
  const cookie = r.u32();
  let size: number;
  let runFlags: Uint8Array | null = null;
  if ((cookie & 0xffff) === SERIAL_COOKIE) {
    size = (cookie >>> 16) + 1;
    const flagBytes = Math.ceil(size / 8);
    r.need(flagBytes, 'the run-container flags');
    runFlags = new Uint8Array(view.buffer, view.byteOffset + r.pos, flagBytes);
    r.pos += flagBytes;
  } else if (cookie === SERIAL_COOKIE_NO_RUNCONTAINER) {
    size = r.u32();
    if (size > 65536) throw new RoaringFormatError(`${size} containers is more than a 32-bit bitmap can have`);
  } else {
    throw new RoaringFormatError(`unknown cookie ${cookie}`);
  }
  r.need(size * 4, 'the container headers');
  const keys = new Uint16Array(size);
  const cards = new Uint32Array(size);
  for (let i = 0; i < size; i++) {
    keys[i] = r.u16();
    cards[i] = r.u16() + 1;
    if (i > 0 && (keys[i] as number) <= (keys[i - 1] as number)) throw new RoaringFormatError('container keys are not strictly increasing');
  }
  let offsets: Uint32Array | null = null;
  if (runFlags === null || size >= NO_OFFSET_THRESHOLD) {
    r.need(size * 4, 'the container offsets');
    offsets = new Uint32Array(size);
    for (let i = 0; i < size; i++) offsets[i] = r.u32();
  }
  const containers: Container[] = [];
  let cardinality = 0;
  for (let i = 0; i < size; i++) {
    const key = keys[i] as number;
    const card = cards[i] as number;
    if (offsets !== null && start + (offsets[i] as number) !== r.pos) throw new RoaringFormatError(`container ${key} offset ${offsets[i]} does not match its position ${r.pos - start}`);
    const isRun = runFlags !== null && (((runFlags[i >>> 3] as number) >>> (i & 7)) & 1) === 1;
    containers.push(isRun ? readRuns(r, card, key) : card > ARRAY_MAX ? readBitmap(r, card, key) : readArray(r, card, key));
    cardinality += card;
  }
  return { bitmap: new RoaringBitmap32(keys, containers, cardinality), next: r.pos };
}

/** A 64-bit bitmap (Delta's RoaringBitmapArray) of row indexes; every value is below 2^53. */
export class RoaringBitmap64 {
  private lastBucket = -1;
  constructor(
    private readonly keys: readonly number[],
    private readonly buckets: readonly RoaringBitmap32[],
    readonly cardinality: number,
  ) {}

  has(rowIndex: number): boolean {
    if (!Number.isSafeInteger(rowIndex) || rowIndex < 0) return false;
    const high = Math.floor(rowIndex / TWO_32);
    const low = rowIndex - high * TWO_32;
    // Readers ask in row order, so the previous bucket is almost always the right one.
    let i = this.lastBucket;
    if (i < 0 || this.keys[i] !== high) {
      i = this.keys.indexOf(high);
      if (i < 0) return false;
      this.lastBucket = i;
    }
    return (this.buckets[i] as RoaringBitmap32).has(low);
  }

  /** All row indexes, ascending. */
  *values(): Generator<number> {
    for (let i = 0; i < this.buckets.length; i++) {
      const high = (this.keys[i] as number) * TWO_32;
      for (const low of (this.buckets[i] as RoaringBitmap32).values()) yield high + low;
    }
  }
}

/** Reads a 64-bit portable bitmap that must fill [start, end) exactly. */
export function readRoaring64(view: DataView, start: number, end: number): RoaringBitmap64 {
  const r = new Reader(view, start, end);
  r.need(8, 'the bucket count');
  const count = view.getBigUint64(r.pos, true);
  r.pos += 8;
  // Each bucket takes at least 12 bytes (key + cookie + size), so a bigger count is corrupt.
  if (count > BigInt(Math.floor((end - r.pos) / 12))) throw new RoaringFormatError(`bucket count ${count} does not fit in ${end - r.pos} bytes`);
  const keys: number[] = [];
  const buckets: RoaringBitmap32[] = [];
  let cardinality = 0;
  for (let i = 0; i < Number(count); i++) {
    const key = r.u32();
    if (keys.length > 0 && key <= (keys[keys.length - 1] as number)) throw new RoaringFormatError('bucket keys are not strictly increasing');
    const { bitmap, next } = readRoaring32(view, r.pos, end);
    r.pos = next;
    bucketChecked(key, bitmap);
    keys.push(key);
    buckets.push(bitmap);
    cardinality += bitmap.cardinality;
  }
  if (r.pos !== end) throw new RoaringFormatError(`${end - r.pos} bytes left over after the bitmap`);
  return new RoaringBitmap64(keys, buckets, cardinality);
}

function bucketChecked(key: number, bitmap: RoaringBitmap32): void {
  if (bitmap.cardinality > 0 && key > MAX_BUCKET_KEY) throw new RoaringFormatError(`bucket ${key} holds row indexes at or above 2^53, which malt refuses`);
}

/**
 * Reads Delta's native RoaringBitmapArray layout that must fill [start, end) exactly: a
 * big-endian int32 bucket count, then per bucket a big-endian int32 byte size and one portable
 * 32-bit bitmap of exactly that size; bucket i holds row indexes i * 2^32 + low.
 */
export function readRoaringNativeArray(view: DataView, start: number, end: number): RoaringBitmap64 {
  if (end - start < 4) throw new RoaringFormatError('truncated: no bucket count');
  const count = view.getInt32(start, false);
  let pos = start + 4;
  if (count < 0 || count > (end - pos) / 12) throw new RoaringFormatError(`bucket count ${count} does not fit in ${end - pos} bytes`);
  const keys: number[] = [];
  const buckets: RoaringBitmap32[] = [];
  let cardinality = 0;
  for (let key = 0; key < count; key++) {
    if (end - pos < 4) throw new RoaringFormatError(`truncated: bucket ${key} has no size`);
    const size = view.getInt32(pos, false);
    pos += 4;
    if (size < 0 || pos + size > end) throw new RoaringFormatError(`truncated: bucket ${key} needs ${size} bytes, ${end - pos} left`);
    const { bitmap, next } = readRoaring32(view, pos, pos + size);
    if (next !== pos + size) throw new RoaringFormatError(`bucket ${key} is ${size} bytes but its bitmap ends after ${next - pos}`);
    bucketChecked(key, bitmap);
    pos = next;
    keys.push(key);
    buckets.push(bitmap);
    cardinality += bitmap.cardinality;
  }
  if (pos !== end) throw new RoaringFormatError(`${end - pos} bytes left over after the bitmap`);
  return new RoaringBitmap64(keys, buckets, cardinality);
}
