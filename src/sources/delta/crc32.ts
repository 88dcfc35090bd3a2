/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for deletion-vector checksums. node:zlib has
 * crc32 from Node 20.15 / 22.2 on (so on every Node malt supports, >= 20.19); the table fallback
 * keeps this working on a runtime built without it.
 */
import * as zlib from 'node:zlib';

type Crc32Fn = (data: Uint8Array) => number;

let table: Uint32Array | null = null;

function tableCrc32(data: Uint8Array): number {
  if (table === null) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = (table[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Exported for the test that checks both paths agree. */
export const crc32Fallback: Crc32Fn = tableCrc32;

/** CRC-32 of `data` as an unsigned 32-bit integer. */
export const crc32: Crc32Fn = typeof native === 'function' ? (data) => native(data) >>> 0 : tableCrc32;
