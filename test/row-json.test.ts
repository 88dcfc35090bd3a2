/**
 * A miss renders its JSON straight from the stored row's decoded values (serving/row-json.ts),
 * without Feature objects, and its protobuf later from the row kept as a string. Both must be
 * exactly what the eager renderer makes of the same features, for every edge value, defaults,
 * nulls, a missing row and a stale view; and the timestamp fast path must give the digits the
 * bigint path gives.
 */
import { describe, expect, it } from 'vitest';
import type { ColumnType, TypedValue } from '../src/column-types.js';
import type { ColumnSpec, Feature, FieldStatus } from '../src/model/types.js';
import { RowDecoder, StringDictionaryBuilder, encodeRow } from '../src/row-codec.js';
import { DatasetResult, formatTimestamp } from '../src/serving/dataset-result.js';
import { decodeResult } from '../src/serving/lookup.js';
import type { ServedVersion } from '../src/serving/version-tracker.js';

const EDGES: [ColumnType, TypedValue][] = [
  ['int64', '-1'], ['int64', '-9223372036854775808'], ['int64', '9223372036854775807'], ['int64', '0'],
  ['double', 0], ['double', -0], ['double', 1.5], ['double', Number.NaN], ['double', -Infinity], ['double', 5e-324], ['double', 2 ** 60],
  ['string', ''], ['string', 'Åland ü 東京 🎮'], ['string', '"\\\n\u0001'], ['string', 'x'.repeat(300)],
  ['bool', true], ['bool', false],
  ['timestamp', -62135596800000000n], ['timestamp', 253402300799999999n], ['timestamp', 0n], ['timestamp', 1n], ['timestamp', -1n], ['timestamp', -1001n],
  ['timestamp', 1764800000123456n], ['timestamp', 9007199254740991n], ['timestamp', 9007199254740993n], ['timestamp', -9007199254740993n],
  ['string_list', []], ['string_list', ['a', 'é', 'a']],
];

function version(columns: ColumnSpec[], defaults: (TypedValue | null)[], dict: string[], stale = false): ServedVersion {
  // Only what decodeResult reads of a served version.
  return {
    config: { name: 'pf', kind: 'features' }, versionString: '7', columns, defaults, stale,
    decoder: new RowDecoder(columns, dict),
  } as unknown as ServedVersion;
}

/** The features the eager path would build for a row of `values` (null: no row). */
function expected(v: ServedVersion, values: (TypedValue | null)[] | null): Feature[] {
  return v.columns.map((col, c) => {
    const value = values === null ? null : values[c] ?? null;
    const def = v.defaults[c] ?? null;
    const status: FieldStatus = value !== null ? (v.stale ? 'STALE' : 'PRESENT') : def !== null ? 'DEFAULTED' : values === null ? 'NOT_FOUND' : 'NULL_VALUE';
    return { name: col.name, type: col.type, value: value ?? def, status };
  });
}

function check(v: ServedVersion, row: Buffer | null, values: (TypedValue | null)[] | null): void {
  const got = decodeResult(v, row);
  const want = DatasetResult.build('pf', '7', row !== null, expected(v, values), null);
  expect(got.json).toBe(want.json);
  expect(got.jsonBytes).toBe(want.jsonBytes);
  expect(got.found).toBe(row !== null);
  expect(got.proto).toBe(want.proto);
}

describe('JSON rendered straight from the stored row', () => {
  it('equals the eager rendering of the same features for every edge value', () => {
    const dict = new StringDictionaryBuilder();
    const columns: ColumnSpec[] = EDGES.map(([type], i) => ({ name: i % 2 ? `名前${i}` : `c"${i}`, type }));
    const values = EDGES.map(([, value]) => value);
    const row = encodeRow(columns, values, dict);
    for (const stale of [false, true]) {
      const v = version(columns, columns.map(() => null), dict.entries, stale);
      check(v, row, values);
      check(v, null, null);
    }
    // One column a row at a time (the first column has no leading comma).
    for (let i = 0; i < EDGES.length; i++) {
      const one = [columns[i]!];
      check(version(one, [null], dict.entries), encodeRow(one, [values[i]!], dict), [values[i]!]);
    }
  });

  it('renders nulls as their default, else NULL_VALUE, and a missing row as defaults and NOT_FOUND', () => {
    const dict = new StringDictionaryBuilder();
    const columns: ColumnSpec[] = [{ name: 'a', type: 'int64' }, { name: 'b', type: 'string' }, { name: 'c', type: 'timestamp' }, { name: 'd', type: 'double' }];
    const defaults: (TypedValue | null)[] = ['-5', null, 1000n, null];
    const v = version(columns, defaults, dict.entries);
    const values: (TypedValue | null)[] = [null, null, null, 2.25];
    check(v, encodeRow(columns, values, dict), values);
    check(v, null, null);
    const json = JSON.parse(decodeResult(v, null).json) as { features: Record<string, { value: unknown; status: string }> };
    expect(json.features).toEqual({ a: { value: '-5', status: 'DEFAULTED' }, b: { value: null, status: 'NOT_FOUND' }, c: { value: '1970-01-01T00:00:00.001Z', status: 'DEFAULTED' }, d: { value: null, status: 'NOT_FOUND' } });
  });

  it('formats timestamps as the bigint arithmetic does, on both sides of the safe-integer range', () => {
    const bigintWay = (micros: bigint): string => {
      let ms = micros / 1000n;
      if (ms * 1000n > micros) ms -= 1n;
      const iso = new Date(Number(ms)).toISOString();
      const extra = micros - ms * 1000n;
      return extra === 0n ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
    };
    const cases = [0n, 1n, -1n, 999n, -999n, 1000n, -1000n, -1001n, 1764800000123456n, -62135596800000000n, 253402300799999999n];
    for (let k = -3n; k <= 3n; k++) cases.push(9007199254740991n + k, -9007199254740991n + k, 8999999999999999n + k);
    for (const us of cases) expect(formatTimestamp(us), String(us)).toBe(bigintWay(us));
  });
});
