/**
 * Kafka wire primitives for the test bridge (kafka-bridge.ts): a reader and a writer for both the
 * classic encodings (int16-length strings, int32-length bytes and arrays) and the "flexible"
 * (KIP-482) ones (unsigned-varint lengths + 1, tagged fields). Test support only.
 */

export class WireReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  get rest(): Buffer { return this.buf.subarray(this.pos); }
  int8(): number { const v = this.buf.readInt8(this.pos); this.pos += 1; return v; }
  int16(): number { const v = this.buf.readInt16BE(this.pos); this.pos += 2; return v; }
  int32(): number { const v = this.buf.readInt32BE(this.pos); this.pos += 4; return v; }
  int64(): bigint { const v = this.buf.readBigInt64BE(this.pos); this.pos += 8; return v; }
  bool(): boolean { return this.int8() !== 0; }

  uvarint(): number {
    let v = 0, shift = 0, b: number;
    do {
      b = this.buf.readUInt8(this.pos++);
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  }

  private take(n: number): Buffer { const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b; }

  /** Classic nullable string (int16 length, -1 = null). */
  str(): string | null { const n = this.int16(); return n < 0 ? null : this.take(n).toString('utf8'); }
  /** Flexible nullable string (uvarint length + 1, 0 = null). */
  cstr(): string | null { const n = this.uvarint() - 1; return n < 0 ? null : this.take(n).toString('utf8'); }
  bytes(): Buffer | null { const n = this.int32(); return n < 0 ? null : this.take(n); }
  cbytes(): Buffer | null { const n = this.uvarint() - 1; return n < 0 ? null : this.take(n); }
  arr<T>(item: () => T): T[] | null { const n = this.int32(); return n < 0 ? null : Array.from({ length: n }, item); }
  carr<T>(item: () => T): T[] | null { const n = this.uvarint() - 1; return n < 0 ? null : Array.from({ length: n }, item); }

  /** Skips a tagged-fields section (none of them matter to the bridge). */
  tags(): void {
    const n = this.uvarint();
    for (let i = 0; i < n; i++) { this.uvarint(); this.take(this.uvarint()); }
  }
}

export class WireWriter {
  private readonly parts: Buffer[] = [];

  private fixed(n: number, write: (b: Buffer) => void): this { const b = Buffer.alloc(n); write(b); this.parts.push(b); return this; }
  int8(v: number): this { return this.fixed(1, (b) => b.writeInt8(v)); }
  int16(v: number): this { return this.fixed(2, (b) => b.writeInt16BE(v)); }
  int32(v: number): this { return this.fixed(4, (b) => b.writeInt32BE(v)); }
  int64(v: bigint): this { return this.fixed(8, (b) => b.writeBigInt64BE(v)); }
  bool(v: boolean): this { return this.int8(v ? 1 : 0); }
  raw(b: Buffer): this { this.parts.push(b); return this; }

  uvarint(v: number): this {
    const out: number[] = [];
    do {
      let byte = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) byte |= 0x80;
      out.push(byte);
    } while (v > 0);
    this.parts.push(Buffer.from(out));
    return this;
  }

  str(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).raw(b);
  }

  cstr(s: string | null): this {
    if (s === null) return this.uvarint(0);
    const b = Buffer.from(s, 'utf8');
    return this.uvarint(b.length + 1).raw(b);
  }

  bytes(b: Buffer | null): this { return b === null ? this.int32(-1) : this.int32(b.length).raw(b); }
  cbytes(b: Buffer | null): this { return b === null ? this.uvarint(0) : this.uvarint(b.length + 1).raw(b); }

  arr<T>(items: readonly T[] | null, item: (x: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const x of items) item(x);
    return this;
  }

  carr<T>(items: readonly T[] | null, item: (x: T) => void): this {
    if (items === null) return this.uvarint(0);
    this.uvarint(items.length + 1);
    for (const x of items) item(x);
    return this;
  }

  /** An empty tagged-fields section. */
  tags(): this { return this.uvarint(0); }

  done(): Buffer { return Buffer.concat(this.parts); }
}
