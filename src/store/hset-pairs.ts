/**
 * An HSET's field/value pairs framed as RESP bulk strings (resp-frame.ts frames the command
 * around them). Kept apart from resp-frame.ts, which needs ioredis, so that the loader's worker
 * threads (loaders/row-group-worker.ts) can frame pairs without loading a Redis client.
 */

export const CRLF_BYTES = 2;

export function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes `prefix` (an ASCII byte), the decimal `n` and CRLF at `pos`; returns the new position. */
export function writeHeader(buf: Buffer, pos: number, prefix: number, n: number): number {
  buf[pos++] = prefix;
  const digits = decimalDigits(n);
  for (let i = digits - 1; i >= 0; i--) {
    buf[pos + i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  pos += digits;
  buf[pos++] = 13;
  buf[pos++] = 10;
  return pos;
}

export const STAR = 42, DOLLAR = 36;

/** First size of a pair buffer (from Node's shared pool while under 4 KiB). */
const FIRST_PAIRS_BYTES = 2048;

/**
 * An HSET's field/value pairs, framed as RESP bulk strings as they are added, in one growing
 * buffer: a row costs a copy of its bytes, not a Buffer and two array slots of its own.
 */
export class HsetPairs {
  buf: Buffer;
  pos = 0;
  pairs = 0;

  constructor(size = FIRST_PAIRS_BYTES) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Appends field → value; `length` bytes of `value` when it is a Buffer (default: all of it). */
  add(field: string, value: string | Buffer, length = typeof value === 'string' ? Buffer.byteLength(value) : value.length): void {
    const fieldLen = Buffer.byteLength(field);
    this.ensure(fieldLen + length + 48); // two headers of at most 1 + 16 digits + CRLF, two CRLFs
    let pos = writeHeader(this.buf, this.pos, DOLLAR, fieldLen);
    pos += this.buf.write(field, pos, 'utf8');
    this.buf[pos++] = 13;
    this.buf[pos++] = 10;
    pos = writeHeader(this.buf, pos, DOLLAR, length);
    if (typeof value === 'string') pos += this.buf.write(value, pos, 'utf8');
    else pos += value.copy(this.buf, pos, 0, length);
    this.buf[pos++] = 13;
    this.buf[pos++] = 10;
    this.pos = pos;
    this.pairs++;
  }

  /** Appends `pairs` pairs already framed by add() (another HsetPairs' bytes `bytes[start, end)`). */
  append(bytes: Uint8Array, start: number, end: number, pairs: number): void {
    const n = end - start;
    this.ensure(n);
    this.buf.set(bytes.subarray(start, end), this.pos);
    this.pos += n;
    this.pairs += pairs;
  }
}
