import { describe, expect, it } from 'vitest';
import type { TypedValue } from '../src/column-types.js';
import { DICTIONARY_MAX_ENTRIES, RowDecoder, StringDictionaryBuilder, encodeRow } from '../src/row-codec.js';
import type { ColumnSpec } from '../src/model/types.js';

const COLUMNS: ColumnSpec[] = [
  { name: 'd', type: 'double' }, { name: 'i', type: 'int64' }, { name: 's', type: 'string' },
  { name: 'b', type: 'bool' }, { name: 't', type: 'timestamp' }, { name: 'l', type: 'string_list' },
];

function roundTrip(values: (TypedValue | null)[], dict = new StringDictionaryBuilder()): (TypedValue | null)[] {
  const bytes = encodeRow(COLUMNS, values, dict);
  return new RowDecoder(COLUMNS, dict.entries).decode(bytes);
}

describe('bin1 row codec', () => {
  it('round-trips every type exactly, including edge values', () => {
    const cases: (TypedValue | null)[][] = [
      [12.5, '9007199254740993', 'DE', true, 1_759_322_096_789_000n, ['pvp', 'guild_leader']],
      [-0.001, '-42', '', false, 1_759_322_096_789_123n, []],
      [0, '0', 'Ünïcode ✓ '.repeat(20), true, 0n, ['x'.repeat(300)]],
      [Number.NaN, '9223372036854775807', 'a', false, -1_500_000n, ['a', 'a', 'b']],
      [Number.POSITIVE_INFINITY, '-9223372036854775808', 'b', true, -1n, ['']],
      [-0, String(Number.MAX_SAFE_INTEGER), 'c', false, 253_402_300_799_999_999n, null],
      [1, '2', 'e', true, -62_135_596_799_999_999n, null],
      [1, '2', 'e', true, -62_135_596_800_000_000n, null],
      [1e300, String(Number.MIN_SAFE_INTEGER), null, null, null, null],
      [null, null, null, null, null, null],
      [-123456789, '1', 'd', true, 1000n, ['d']],
    ];
    for (const values of cases) {
      const out = roundTrip(values);
      expect(out.length).toBe(values.length);
      values.forEach((v, i) => {
        if (typeof v === 'number') expect(Object.is(out[i], v) || (Number.isNaN(v) && Number.isNaN(out[i] as number))).toBe(true);
        else expect(out[i]).toEqual(v);
      });
    }
  });

  it('stores repeated short strings once, in the dictionary, and keeps rows small', () => {
    const dict = new StringDictionaryBuilder();
    const row = [12.34, '57', 'US', true, 1_761_955_200_000_000n, ['pvp', 'collector', 'guild_leader']];
    const first = encodeRow(COLUMNS, row, dict);
    expect(dict.entries).toEqual(['US', 'pvp', 'collector', 'guild_leader']);
    const again = encodeRow(COLUMNS, row, dict);
    expect(again.equals(first)).toBe(true);
    expect(first.length).toBeLessThanOrEqual(30); // well under Redis's 64-byte listpack value limit
    expect(new RowDecoder(COLUMNS, dict.entries).decode(again)).toEqual(row);
  });

  it('stops growing the dictionary when full and writes further strings inline', () => {
    const dict = new StringDictionaryBuilder();
    for (let i = 0; i < DICTIONARY_MAX_ENTRIES + 10; i++) dict.id(`s${i}`);
    expect(dict.entries.length).toBe(DICTIONARY_MAX_ENTRIES);
    const out = roundTrip([1, '1', 'brand-new', true, 0n, ['also-new']], dict);
    expect(out[2]).toBe('brand-new');
    expect(out[5]).toEqual(['also-new']);
  });

  it('rejects bytes that are not a bin1 row instead of returning garbage', () => {
    const dec = new RowDecoder(COLUMNS, []);
    expect(() => dec.decode(Buffer.from('[1,2,3]'))).toThrow(/unknown row format/);
    expect(() => dec.decode(Buffer.from([1, 0x01]))).toThrow();
  });
});
