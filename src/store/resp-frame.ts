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
import { CRLF_BYTES, DOLLAR, HsetPairs, STAR, decimalDigits, writeHeader } from './hset-pairs.js';

export { HsetPairs };

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
