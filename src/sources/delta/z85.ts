/**
 * Z85 (ZeroMQ RFC 32), the Base85 variant Delta uses for inline deletion vectors and for the
 * UUID in relative ('u') deletion-vector paths (PROTOCOL.md "Deletion Vector Descriptor
 * Schema"). Every 5 characters carry 4 bytes, most significant first. Delta pads the bytes to a
 * multiple of 4 before encoding, so callers truncate the decoded bytes to the size they expect.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

const DECODE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Decodes Z85 text; throws RangeError on a length that is not a multiple of 5, a foreign character, or a group above 2^32-1. */
export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0) throw new RangeError(`Z85 text length ${text.length} is not a multiple of 5`);
  const out = new Uint8Array((text.length / 5) * 4);
  for (let g = 0, o = 0; g < text.length; g += 5, o += 4) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const code = text.charCodeAt(g + i);
      const digit = code < 128 ? (DECODE[code] as number) : -1;
      if (digit < 0) throw new RangeError(`Z85 text has a character outside the alphabet at ${g + i}`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new RangeError(`Z85 group at ${g} is above 2^32-1`);
    out[o] = value >>> 24;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}

/** Encodes bytes as Z85; the length must be a multiple of 4 (pad first, as Delta writers do). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`Z85 input length ${bytes.length} is not a multiple of 4`);
  let out = '';
  for (let o = 0; o < bytes.length; o += 4) {
    let value = (((bytes[o] as number) << 24) >>> 0) + ((bytes[o + 1] as number) << 16) + ((bytes[o + 2] as number) << 8) + (bytes[o + 3] as number);
    const chars: string[] = [];
    for (let i = 0; i < 5; i++) {
      chars.push(ALPHABET[value % 85] as string);
      value = Math.floor(value / 85);
    }
    out += chars.reverse().join('');
  }
  return out;
}

/** The canonical lowercase UUID text of 20 Z85 characters (16 bytes, most significant first). */
export function z85DecodeUuid(text: string): string {
  if (text.length !== 20) throw new RangeError(`a Z85 UUID is 20 characters, not ${text.length}`);
  const hex = Buffer.from(z85Decode(text)).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
