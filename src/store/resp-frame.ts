/**
 * Multi-field HSETs framed by malt (command-batch.ts's `hsetFields`, the loader's writes): the
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

/** The RESP bytes of HSET key f1 v1 … (`fieldsAndValues` alternates). */
export function hsetBytes(key: string, fieldsAndValues: readonly (string | Buffer)[]): Buffer {
  const n = fieldsAndValues.length;
  const lengths = new Array<number>(n);
  const keyLen = Buffer.byteLength(key);
  let size = 1 + decimalDigits(n + 2) + CRLF_BYTES + 10 /* $4\r\nhset\r\n */ + 1 + decimalDigits(keyLen) + CRLF_BYTES + keyLen + CRLF_BYTES;
  for (let i = 0; i < n; i++) {
    const a = fieldsAndValues[i] as string | Buffer;
    const len = typeof a === 'string' ? Buffer.byteLength(a) : a.length;
    lengths[i] = len;
    size += 1 + decimalDigits(len) + CRLF_BYTES + len + CRLF_BYTES;
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = writeHeader(buf, 0, STAR, n + 2);
  pos += buf.write('$4\r\nhset\r\n', pos, 'latin1');
  pos = writeHeader(buf, pos, DOLLAR, keyLen);
  pos += buf.write(key, pos, 'utf8');
  buf[pos++] = 13;
  buf[pos++] = 10;
  for (let i = 0; i < n; i++) {
    const a = fieldsAndValues[i] as string | Buffer;
    pos = writeHeader(buf, pos, DOLLAR, lengths[i] as number);
    if (typeof a === 'string') pos += buf.write(a, pos, 'utf8');
    else pos += a.copy(buf, pos);
    buf[pos++] = 13;
    buf[pos++] = 10;
  }
  if (pos !== size) throw new Error(`HSET framing wrote ${pos} of ${size} bytes`);
  return buf;
}

/** An ioredis Command for HSET key f1 v1 …, its reply the number of new fields. */
export function framedHset(key: string, fieldsAndValues: readonly (string | Buffer)[]): Command {
  const bytes = hsetBytes(key, fieldsAndValues);
  // Only the key is given as an argument: ioredis reads it for the cluster slot (and debug logs).
  const command = new Command('hset', [key]);
  (command as unknown as { toWritable: () => Buffer }).toWritable = () => bytes;
  return command;
}
