/**
 * Multi-field HSETs framed by malt (command-batch.ts's `hsetPairs`, the loader's writes): the
 * command's RESP bytes are built once, in one buffer, and handed to ioredis as a Command whose
 * wire form is that buffer. ioredis still queues it, matches its reply, and redirects or retries
 * it as any command (its key is the command's first argument, so cluster slots work); what it no
 * longer does is turn every field and value into framing strings and copy them once more per
 * argument, which was most of its cost per row on a load.
 *
 * The bytes are exactly what ioredis writes for `hset(key, f1, v1, …)`:
 *   *<2 + 2n>\r\n $4\r\nhset\r\n $<len>\r\n<key>\r\n then, per argument, $<len>\r\n<bytes>\r\n
 * (strings as UTF-8). test/snapshot-writer.test.ts compares them byte for byte.
 */
import { Command } from 'ioredis';

const CRLF_BYTES = 2;

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes `prefix` (an ASCII byte), the decimal `n` and CRLF at `pos`; returns the new position. */
function writeHeader(buf: Buffer, pos: number, prefix: number, n: number): number {
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

const STAR = 42, DOLLAR = 36;

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
}

/** The RESP bytes of HSET key followed by `pairs`. */
export function hsetFrame(key: string, pairs: HsetPairs): Buffer {
  const keyLen = Buffer.byteLength(key);
  const head = 1 + decimalDigits(2 + 2 * pairs.pairs) + CRLF_BYTES + 10 /* $4\r\nhset\r\n */ + 1 + decimalDigits(keyLen) + CRLF_BYTES + keyLen + CRLF_BYTES;
  const buf = Buffer.allocUnsafe(head + pairs.pos);
  let pos = writeHeader(buf, 0, STAR, 2 + 2 * pairs.pairs);
  pos += buf.write('$4\r\nhset\r\n', pos, 'latin1');
  pos = writeHeader(buf, pos, DOLLAR, keyLen);
  pos += buf.write(key, pos, 'utf8');
  buf[pos++] = 13;
  buf[pos++] = 10;
  pairs.buf.copy(buf, pos, 0, pairs.pos);
  return buf;
}

/** The RESP bytes of HSET key f1 v1 … (`fieldsAndValues` alternates). */
export function hsetBytes(key: string, fieldsAndValues: readonly (string | Buffer)[]): Buffer {
  const pairs = new HsetPairs();
  for (let i = 0; i + 1 < fieldsAndValues.length; i += 2) pairs.add(String(fieldsAndValues[i]), fieldsAndValues[i + 1] as string | Buffer);
  return hsetFrame(key, pairs);
}

/** An ioredis Command for HSET key followed by `pairs`, its reply the number of new fields. */
export function framedHset(key: string, pairs: HsetPairs): Command {
  const bytes = hsetFrame(key, pairs);
  // Only the key is given as an argument: ioredis reads it for the cluster slot (and debug logs).
  const command = new Command('hset', [key]);
  (command as unknown as { toWritable: () => Buffer }).toWritable = () => bytes;
  return command;
}
