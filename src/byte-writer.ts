/**
 * A growable byte buffer with varint primitives, shared by the two binary encoders: the bin1 row
 * format (row-codec.ts) and the protobuf responses (serving/proto-encoding.ts).
 */
const SLAB_BYTES = 1024 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/**
 * `size` bytes carved from a shared 1 MiB slab (a bump allocator; regions are never reused, a
 * slab is freed when the last buffer cut from it is). Response-sized buffers above Node's 4 KiB
 * pool limit would otherwise each be a fresh ArrayBuffer: external memory whose churn triggers
 * major GCs (measured on gRPC batches in BENCHMARKS.md).
 */
export function slabAlloc(size: number): Buffer {
  if (size > SLAB_BYTES / 8) return Buffer.allocUnsafe(size);
  if (slabUsed + size > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += (size + 7) & ~7;
  return out;
}

export class ByteWriter {
  buf: Buffer;
  pos = 0;

  /** `size` is a first guess; the buffer grows as needed. `exact` sizes come from the slab. */
  constructor(size = 128, exact = false) {
    this.buf = exact ? slabAlloc(size) : Buffer.allocUnsafe(Math.max(size, 16));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Unsigned LEB128 varint of a non-negative integer up to 2^53. */
  uvarint(v: number): void {
    this.ensure(10);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  /** Unsigned LEB128 varint of a non-negative bigint (up to 2^70). */
  bigUvarint(u: bigint): void {
    this.ensure(11);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
