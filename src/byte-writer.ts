/**
 * A growable byte buffer with varint primitives, shared by the two binary encoders: the bin1 row
 * format (row-codec.ts) and the protobuf responses (serving/proto-encoding.ts).
 */
export class ByteWriter {
  buf: Buffer;
  pos = 0;

  /** `size` is a first guess (or the exact size); the buffer grows as needed. */
  constructor(size = 128) {
    this.buf = Buffer.allocUnsafe(Math.max(size, 16));
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
