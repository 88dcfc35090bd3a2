import { describe, expect, it } from 'vitest';
import type { ColumnType, TypedValue } from '../src/column-types.js';
import { DecimalValue } from '../src/loaders/decimal.js';
import { STORED_NULL, STORED_VALUE, writeRawValue } from '../src/loaders/raw-row-encoder.js';
import { type ConvertNotes, ValueReject, convertValue } from '../src/loaders/value-converter.js';
import type { ColumnSpec } from '../src/model/types.js';
import { RowBuilder, RowDecoder, StringDictionaryBuilder, encodeRow } from '../src/row-codec.js';

// The loader encodes source values straight into rows (raw-row-encoder.ts); the value codec
// (convertValue + encodeRow) is the reference: every byte, reject and dropped element must agree.

const TYPES: ColumnType[] = ['double', 'int64', 'string', 'bool', 'timestamp', 'string_list'];

/** Deterministic pseudo-random source (xorshift32), so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

const EDGE: Record<ColumnType, unknown[]> = {
  double: [0, -0, 1.5, -1e300, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 52, -(2 ** 52), 2 ** 53, Number.MAX_SAFE_INTEGER, 7n, -(2n ** 70n),
    new DecimalValue(12345n, 2), new DecimalValue(-1n, 20), 'x', true, null, undefined],
  int64: [0n, -1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n - 1n,
    0, -0, 42, -42, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, 1.5, Number.NaN, 'x', null],
  string: ['', 'DE', 'Ünïcode ✓', 'x'.repeat(47), 'x'.repeat(48), 'y'.repeat(49), '€'.repeat(16), '€'.repeat(17), new DecimalValue(-1050n, 3), 5, null],
  bool: [true, false, 0, 'true', null],
  timestamp: [0n, 1000n, -1000n, 1n, -1n, -1500n, 1_759_322_096_789_000n, 1_759_322_096_789_123n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n,
    -(2n ** 53n) - 1000n, 253_402_300_799_999_999n, 253_402_300_800_000_000n, -62_135_596_800_000_000n, -62_135_596_800_000_001n, 2n ** 63n - 1n,
    1_000_000, -5, 1.5, new Date(0), new Date('2026-10-01T12:34:56.789Z'), new Date(Number.NaN), 'x', null],
  string_list: [[], ['a'], ['a', 'a', 'b'], ['', 'x'.repeat(300)], [null], ['a', null, 'b', undefined], ['a', 1], 'a', null],
};

function randomValue(type: ColumnType, r: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  if (r() < 0.3) return pick(EDGE[type]);
  switch (type) {
    case 'double': return r() < 0.5 ? Math.round((r() - 0.5) * 1e6) : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
    case 'int64': return r() < 0.5 ? BigInt(Math.round((r() - 0.5) * 2 ** 40)) : (BigInt(Math.floor(r() * 2 ** 32)) << BigInt(Math.floor(r() * 32))) * (r() < 0.5 ? -1n : 1n);
    case 'string': return pick(['US', 'DE', 'gold', 'silver', `player-${Math.floor(r() * 1e9)}`]);
    case 'bool': return r() < 0.5;
    case 'timestamp': return BigInt(Math.floor((r() - 0.3) * 4e12)) * (r() < 0.5 ? 1000n : 1n);
    case 'string_list': return Array.from({ length: Math.floor(r() * 5) }, () => pick(['pvp', 'whale', 'guild', `t${Math.floor(r() * 1e6)}`]));
  }
}

/** The reference: convertValue + encodeRow, with the per-column outcomes the loader counts. */
function reference(columns: ColumnSpec[], raws: unknown[], dict: StringDictionaryBuilder): { bytes: Buffer; outcomes: (string | number)[]; dropped: number[] } {
  const values: (TypedValue | null)[] = [];
  const outcomes: (string | number)[] = [];
  const dropped: number[] = [];
  columns.forEach((c, i) => {
    const notes: ConvertNotes = { nullElements: 0 };
    const v = convertValue(c.type, raws[i], notes);
    dropped.push(notes.nullElements);
    if (v instanceof ValueReject) {
      outcomes.push(v.reason);
      values.push(null);
    } else {
      outcomes.push(v === null ? STORED_NULL : STORED_VALUE);
      values.push(v);
    }
  });
  return { bytes: encodeRow(columns, values, dict), outcomes, dropped };
}

function encodedRaw(columns: ColumnSpec[], raws: unknown[], b: RowBuilder): { bytes: Buffer; outcomes: (string | number)[]; dropped: number[] } {
  const outcomes: (string | number)[] = [];
  const dropped: number[] = [];
  b.begin();
  columns.forEach((c, i) => {
    const notes: ConvertNotes = { nullElements: 0 };
    const o = writeRawValue(b, c.type, raws[i], notes);
    outcomes.push(o instanceof ValueReject ? o.reason : o);
    dropped.push(notes.nullElements);
  });
  return { bytes: b.finish(), outcomes, dropped };
}

describe('the loader row encoder (source values → bin1)', () => {
  it('writes exactly the bytes, rejects and dropped list elements of convertValue + encodeRow', () => {
    const columns: ColumnSpec[] = [...TYPES, ...TYPES].map((type, i) => ({ name: `c${i}`, type }));
    const r = rng(0x9e3779b9);
    // Two dictionaries fed the same strings in the same order assign the same ids.
    const refDict = new StringDictionaryBuilder();
    const rawDict = new StringDictionaryBuilder();
    const builder = new RowBuilder(rawDict, 4096); // small slabs: rows cross slab boundaries
    const kept: { bytes: Buffer; expected: Buffer }[] = [];
    const seenReasons = new Set<string>();
    for (let n = 0; n < 20_000; n++) {
      const raws = columns.map((c) => randomValue(c.type, r));
      const want = reference(columns, raws, refDict);
      const got = encodedRaw(columns, raws, builder);
      expect(got.outcomes).toEqual(want.outcomes);
      expect(got.dropped).toEqual(want.dropped);
      expect(got.bytes.equals(want.bytes), `row ${n}: ${want.bytes.toString('hex')} vs ${got.bytes.toString('hex')}`).toBe(true);
      for (const o of got.outcomes) if (typeof o === 'string') seenReasons.add(o);
      if (n % 97 === 0) kept.push({ bytes: got.bytes, expected: Buffer.from(want.bytes) });
    }
    expect(rawDict.entries).toEqual(refDict.entries);
    // Every reject reason was exercised (the edge lists above hold each one).
    expect([...seenReasons].sort()).toEqual(['int64_out_of_range', 'timestamp_out_of_range', 'unconvertible']);
    // Rows handed out earlier are views into slabs: later rows must not overwrite them.
    for (const k of kept) expect(k.bytes.equals(k.expected)).toBe(true);
  });

  it('decodes what it writes for every edge value', () => {
    const columns: ColumnSpec[] = TYPES.map((type, i) => ({ name: `c${i}`, type }));
    const dict = new StringDictionaryBuilder();
    const b = new RowBuilder(dict);
    const decoder = new RowDecoder(columns, dict.entries);
    const longest = Math.max(...TYPES.map((t) => EDGE[t].length));
    for (let k = 0; k < longest; k++) {
      const raws = TYPES.map((t) => EDGE[t][k % EDGE[t].length]);
      const { bytes } = encodedRaw(columns, raws, b);
      const expected = TYPES.map((t, i) => {
        const v = convertValue(t, raws[i]);
        return v instanceof ValueReject ? null : v;
      });
      expect(decoder.decode(bytes)).toEqual(expected);
    }
  });
});
