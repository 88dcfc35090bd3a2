/**
 * How one entity's row is stored as a Redis hash value (row format "bin1"): a compact binary
 * record in the version's column order (the order lives once in the version manifest, never per
 * row). Rows are small enough that Redis keeps the bucket hashes as listpacks.
 *
 *   byte 0: format (1)
 *   per column, a tag byte and its payload:
 *     0x00 null
 *     0x01 double, float64 LE          0x02 double holding an integer, zigzag varint
 *     0x03 int64, zigzag varint         0x04 string (see below)
 *     0x05 bool false                   0x06 bool true
 *     0x07 timestamp, zigzag varint ms  0x08 timestamp, zigzag varint µs (when not whole ms)
 *     0x09 string_list: varint count, then each element as a string payload
 *   (timestamps are decoded exactly, as bigint µs; the layout is unchanged since bin1's first version)
 *   string payload: varint (index << 1 | 1) into the version's string dictionary, or
 *                   varint (byteLength << 1) followed by UTF-8 bytes
 *
 * The dictionary holds the first DICTIONARY_MAX_ENTRIES distinct short strings a load meets
 * (countries, tiers, tags: the low-cardinality values feature tables are full of). It is stored
 * once per version (keys.ts: P:{D}:v:V:dict) and loaded by readers with the manifest.
 * Segments datasets store a JSON array of segment names (the long-shape loader script edits it).
 */
import type { ColumnType, TypedValue } from './column-types.js';
import type { ColumnSpec } from './model/types.js';
import { ByteWriter } from './byte-writer.js';

export const ROW_FORMAT = 'bin1';
const FORMAT_BYTE = 1;
export const DICTIONARY_MAX_ENTRIES = 16_384;
export const DICTIONARY_MAX_STRING_BYTES = 48;

const T_NULL = 0x00, T_F64 = 0x01, T_F64_INT = 0x02, T_I64 = 0x03, T_STR = 0x04, T_FALSE = 0x05, T_TRUE = 0x06;
const T_TS_MS = 0x07, T_TS_US = 0x08, T_LIST = 0x09;

/** Where a row encoder gets dictionary ids: the string's id, or undefined to write it inline. */
export interface StringIds {
  id(s: string): number | undefined;
}

/** Built while loading: assigns dictionary ids to short strings until it is full. */
export class StringDictionaryBuilder implements StringIds {
  private readonly ids = new Map<string, number>();
  readonly entries: string[] = [];

  id(s: string): number | undefined {
    const known = this.ids.get(s);
    if (known !== undefined || this.entries.length >= DICTIONARY_MAX_ENTRIES) return known;
    if (s.length > DICTIONARY_MAX_STRING_BYTES || Buffer.byteLength(s) > DICTIONARY_MAX_STRING_BYTES) return undefined;
    const id = this.entries.length;
    this.entries.push(s);
    this.ids.set(s, id);
    return id;
  }
}

class RowWriter extends ByteWriter {
  /** Zigzag varint of a safe integer (BigInt beyond 2^52, where v * 2 would lose bits). */
  zigzag(v: number): void {
    if (v >= 2 ** 52 || v <= -(2 ** 52)) this.bigZigzag(BigInt(v));
    else this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  bigZigzag(v: bigint): void {
    this.bigUvarint(v >= 0n ? v << 1n : (-v << 1n) - 1n);
  }

  string(s: string, dict: StringIds): void {
    const id = dict.id(s);
    if (id !== undefined) {
      this.uvarint(id * 2 + 1);
      return;
    }
    const len = Buffer.byteLength(s);
    this.uvarint(len * 2);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
}

function writeValue(w: RowWriter, type: ColumnType, v: TypedValue, dict: StringIds): void {
  switch (type) {
    case 'double': {
      const d = v as number;
      if (Number.isSafeInteger(d) && !Object.is(d, -0)) {
        w.byte(T_F64_INT);
        w.zigzag(d);
      } else {
        w.byte(T_F64);
        w.ensure(8);
        w.buf.writeDoubleLE(d, w.pos);
        w.pos += 8;
      }
      return;
    }
    case 'int64': {
      w.byte(T_I64);
      const n = Number(v);
      if (Number.isSafeInteger(n)) w.zigzag(n);
      else w.bigZigzag(BigInt(v as string));
      return;
    }
    case 'string':
      w.byte(T_STR);
      w.string(v as string, dict);
      return;
    case 'bool':
      w.byte(v ? T_TRUE : T_FALSE);
      return;
    case 'timestamp': {
      const us = v as bigint;
      if (us % 1000n === 0n) {
        w.byte(T_TS_MS);
        w.bigZigzag(us / 1000n);
      } else {
        w.byte(T_TS_US);
        w.bigZigzag(us);
      }
      return;
    }
    case 'string_list': {
      const list = v as readonly string[];
      w.byte(T_LIST);
      w.uvarint(list.length);
      for (const s of list) w.string(s, dict);
      return;
    }
  }
}

/** Encodes typed in-memory values (int64 as decimal string, timestamps in µs) as a bin1 row. */
export function encodeRow(columns: readonly ColumnSpec[], values: readonly (TypedValue | null)[], dict: StringDictionaryBuilder): Buffer {
  const b = new RowBuilder(dict, 0);
  b.begin();
  for (let i = 0; i < columns.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) b.null();
    else b.value((columns[i] as ColumnSpec).type, v);
  }
  return b.finish();
}

/** Rows are copied out of the scratch buffer into slabs of this size (a load's rows share them). */
const SLAB_BYTES = 256 * 1024;

/**
 * Builds bin1 rows one value at a time (the loader's hot path, loaders/raw-row-encoder.ts), in
 * one reused scratch buffer: the loader copies it out (scratch, length) into its write batch;
 * finish() copies it into a shared slab and returns a view of it. The typed
 * entry points write exactly what encodeRow writes for the same typed values.
 */
export class RowBuilder {
  private readonly w = new RowWriter(512);
  private slab: Buffer;
  private slabPos = 0;

  /** `slabBytes` 0: each row gets a Buffer of its own (encodeRow's one-off rows). */
  constructor(private readonly dict: StringIds, private readonly slabBytes = SLAB_BYTES) {
    this.slab = Buffer.allocUnsafeSlow(slabBytes);
  }

  begin(): void {
    this.w.pos = 0;
    this.w.byte(FORMAT_BYTE);
  }

  null(): void {
    this.w.byte(T_NULL);
  }

  /** A typed in-memory value of a column of `type` (convertValue's output). */
  value(type: ColumnType, v: TypedValue): void {
    writeValue(this.w, type, v, this.dict);
  }

  double(d: number): void {
    writeValue(this.w, 'double', d, this.dict);
  }

  /** An int64 held as a safe integer number. */
  int64Safe(n: number): void {
    this.w.byte(T_I64);
    this.w.zigzag(n);
  }

  /** An int64 held as a bigint already known to be in int64 range. */
  int64Big(v: bigint): void {
    const n = Number(v);
    this.w.byte(T_I64);
    // As writeValue: the number when it is exact, else the bigint.
    if (Number.isSafeInteger(n)) this.w.zigzag(n);
    else this.w.bigZigzag(v);
  }

  string(s: string): void {
    this.w.byte(T_STR);
    this.w.string(s, this.dict);
  }

  bool(v: boolean): void {
    this.w.byte(v ? T_TRUE : T_FALSE);
  }

  /**
   * A timestamp of `n` µs, a safe integer (every safe integer is in RFC 3339's range): the same
   * bytes as writeValue's bigint arithmetic, without allocating bigints.
   */
  timestampSafe(n: number): void {
    if (n % 1000 === 0) {
      this.w.byte(T_TS_MS);
      this.w.zigzag(n / 1000);
    } else {
      this.w.byte(T_TS_US);
      this.w.zigzag(n);
    }
  }

  stringList(list: readonly string[]): void {
    const w = this.w;
    w.byte(T_LIST);
    w.uvarint(list.length);
    for (let i = 0; i < list.length; i++) w.string(list[i] as string, this.dict);
  }

  /** The scratch buffer holding the row written since begin() in its first `length` bytes (overwritten by the next begin()). */
  get scratch(): Buffer {
    return this.w.buf;
  }

  get length(): number {
    return this.w.pos;
  }

  /** The row written since begin(), as a view into the current slab (or its own Buffer). */
  finish(): Buffer {
    const w = this.w;
    const len = w.pos;
    if (this.slabBytes === 0) return Buffer.from(w.buf.subarray(0, len));
    if (this.slabPos + len > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(this.slabBytes, len));
      this.slabPos = 0;
    }
    w.buf.copy(this.slab, this.slabPos, 0, len);
    const row = this.slab.subarray(this.slabPos, this.slabPos + len);
    this.slabPos += len;
    return row;
  }
}

/** Reads bin1 rows; one per served version (it holds that version's dictionary). */
export class RowDecoder {
  private pos = 0;
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly columns: readonly ColumnSpec[], private readonly dictionary: readonly string[]) {}

  private uvarint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('truncated row');
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  }

  private zigzagValue(): number | bigint {
    const start = this.pos;
    const u = this.uvarint();
    if (u <= Number.MAX_SAFE_INTEGER) return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    // Beyond 2^53: re-read exactly with BigInt.
    this.pos = start;
    let big = 0n, shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++]!;
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7n;
    }
    return (big & 1n) === 0n ? big >> 1n : -((big + 1n) >> 1n);
  }

  private string(): string {
    const u = this.uvarint();
    if (u % 2 === 1) {
      const s = this.dictionary[(u - 1) / 2];
      if (s === undefined) throw new Error('dictionary index out of range');
      return s;
    }
    const len = u / 2;
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  decode(row: Buffer): (TypedValue | null)[] {
    this.buf = row;
    this.pos = 0;
    if (row[this.pos++] !== FORMAT_BYTE) throw new Error(`unknown row format ${row[0]}`);
    const out: (TypedValue | null)[] = new Array(this.columns.length);
    for (let i = 0; i < this.columns.length; i++) {
      const tag = row[this.pos++];
      switch (tag) {
        case T_NULL: out[i] = null; break;
        case T_F64: out[i] = row.readDoubleLE(this.pos); this.pos += 8; break;
        case T_F64_INT: out[i] = Number(this.zigzagValue()); break;
        case T_I64: out[i] = String(this.zigzagValue()); break;
        case T_STR: out[i] = this.string(); break;
        case T_FALSE: out[i] = false; break;
        case T_TRUE: out[i] = true; break;
        case T_TS_MS: out[i] = BigInt(this.zigzagValue()) * 1000n; break;
        case T_TS_US: out[i] = BigInt(this.zigzagValue()); break;
        case T_LIST: {
          const n = this.uvarint();
          const list: string[] = new Array(n);
          for (let j = 0; j < n; j++) list[j] = this.string();
          out[i] = list;
          break;
        }
        default: throw new Error(`bad value tag ${tag} in column ${this.columns[i]?.name}`);
      }
    }
    return out;
  }
}

export function decodeSegments(text: string): string[] {
  const list = JSON.parse(text) as unknown;
  // cjson (used by the segments loader script) encodes an empty Lua table as {}.
  return Array.isArray(list) ? (list as string[]).slice().sort() : [];
}
