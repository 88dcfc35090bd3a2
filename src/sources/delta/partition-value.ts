/**
 * Types one raw partition value (PROTOCOL.md "Partition Value Serialization"). Pure: the loader
 * calls it per file and column. Unparseable values are refused (SCHEMA_MISMATCH naming ctx),
 * never read as null.
 *
 * Zone-less `timestamp` strings ("2021-09-08 11:11:11[.ffffff]"): the protocol does not say which
 * zone they are in; Spark writes them in the writer session's time zone, which the log does not
 * record. malt reads them as UTC (as Delta Kernel and delta-rs do), so a table written with a
 * non-UTC session zone (kernel-timestamp-PST) yields partition instants shifted by that zone's
 * offset; the ISO-8601 form ("…T10:00:00.000000Z", newer writers) is unambiguous. For
 * timestamp_ntz the wall-clock value is returned as micros since 1970-01-01T00:00 (no zone).
 */
import { MaltError } from '../../errors.js';

export type TypedPartitionValue = null | bigint | number | boolean | string | { readonly timestampMicros: bigint };

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  byte: [-128n, 127n],
  short: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  int: [-2147483648n, 2147483647n],
  long: [-9223372036854775808n, 9223372036854775807n],
};

const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DECIMAL_TYPE = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const DECIMAL_VALUE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const DATE = /^([+-]?\d{4,6})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^([+-]?\d{4,6})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;

function bad(ctx: string, deltaType: string, raw: string, why = ''): MaltError {
  return new MaltError('SCHEMA_MISMATCH', `${ctx}: partition value ${JSON.stringify(raw)} is not a valid ${deltaType}${why ? ` (${why})` : ''}`);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] as number;
  return d <= days;
}

function parseDate(raw: string, ctx: string, deltaType: string): bigint {
  const m = DATE.exec(raw);
  if (!m) throw bad(ctx, deltaType, raw);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validDate(y, mo, d)) throw bad(ctx, deltaType, raw, 'no such day');
  return BigInt(daysFromCivil(y, mo, d)) * 86_400_000_000n;
}

function parseTimestamp(raw: string, ctx: string, deltaType: string): bigint {
  const m = TIMESTAMP.exec(raw);
  if (!m) throw bad(ctx, deltaType, raw);
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i])) as [number, number, number, number, number, number];
  if (!validDate(y, mo, d) || h > 23 || mi > 59 || s > 59) throw bad(ctx, deltaType, raw, 'out of range');
  const frac = (m[7] ?? '').padEnd(9, '0');
  if (frac.slice(6) !== '000') throw bad(ctx, deltaType, raw, 'finer than microseconds');
  let offsetMin = 0;
  const zone = m[8];
  // A wall-clock value has no zone to convert from: an offset would silently shift it.
  if (deltaType.trim().toLowerCase() === 'timestamp_ntz' && zone !== undefined && zone !== 'Z') throw bad(ctx, deltaType, raw, 'timestamp_ntz has no time zone');
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  }
  const seconds = BigInt(daysFromCivil(y, mo, d)) * 86_400n + BigInt(h * 3600 + mi * 60 + s - offsetMin * 60);
  return seconds * 1_000_000n + BigInt(frac.slice(0, 6));
}

/** Exact canonical text of a decimal(p,s): optional '-', integer digits without leading zeros, exactly s fraction digits. */
function parseDecimal(raw: string, precision: number, scale: number, ctx: string, deltaType: string): string {
  const m = DECIMAL_VALUE.exec(raw);
  if (!m || ((m[2] ?? '') === '' && (m[3] ?? '') === '')) throw bad(ctx, deltaType, raw);
  const negative = m[1] === '-';
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let exp = -(m[3] ?? '').length + Number(m[4] ?? '0');
  // Rescale to exactly `scale` fraction digits; dropping non-zero digits would change the value.
  if (-exp > scale) {
    const drop = -exp - scale;
    const dropped = digits.slice(Math.max(0, digits.length - drop));
    if (/[1-9]/.test(dropped)) throw bad(ctx, deltaType, raw, `more than ${scale} fraction digits`);
    digits = digits.slice(0, Math.max(0, digits.length - drop));
    exp = -scale;
  }
  let unscaled = BigInt(digits === '' ? '0' : digits) * 10n ** BigInt(exp + scale);
  if (unscaled.toString().length > precision && unscaled !== 0n) throw bad(ctx, deltaType, raw, `more than ${precision} digits`);
  const text = unscaled.toString().padStart(scale + 1, '0');
  const body = scale === 0 ? text : `${text.slice(0, text.length - scale)}.${text.slice(text.length - scale)}`;
  if (unscaled === 0n) unscaled = 0n;
  return negative && unscaled !== 0n ? `-${body}` : body;
}

function parseFloating(raw: string, ctx: string, deltaType: string): number {
  let n: number;
  if (raw === 'NaN') n = NaN;
  else if (raw === 'Infinity' || raw === '+Infinity') n = Infinity;
  else if (raw === '-Infinity') n = -Infinity;
  else if (FLOAT.test(raw)) n = Number(raw);
  else throw bad(ctx, deltaType, raw);
  // A float column holds float32 values: round the same way the Parquet data would read.
  return deltaType === 'float' ? Math.fround(n) : n;
}

/**
 * Types `raw` as `deltaType` (a Delta primitive type name). null and "" are null. Returns bigint
 * for byte/short/integer/long, number for float/double (NaN/±Infinity spelled as Java does),
 * boolean, string (string; decimal as exact canonical text), { timestampMicros } for timestamp,
 * timestamp_ntz and date (midnight UTC). binary and nested types are refused.
 */
export function parsePartitionValue(deltaType: string, raw: string | null, ctx: string): TypedPartitionValue {
  if (raw === null || raw === '') return null;
  const t = deltaType.trim().toLowerCase();
  const range = INT_RANGES[t];
  if (range !== undefined) {
    if (!/^[+-]?\d+$/.test(raw)) throw bad(ctx, deltaType, raw);
    const v = BigInt(raw);
    if (v < range[0] || v > range[1]) throw bad(ctx, deltaType, raw, 'out of range');
    return v;
  }
  if (t === 'float' || t === 'double') return parseFloating(raw, ctx, t);
  if (t === 'boolean') {
    const lower = raw.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    throw bad(ctx, deltaType, raw);
  }
  if (t === 'string') return raw;
  if (t === 'date') return { timestampMicros: parseDate(raw, ctx, deltaType) };
  if (t === 'timestamp' || t === 'timestamp_ntz') return { timestampMicros: parseTimestamp(raw, ctx, deltaType) };
  const dec = DECIMAL_TYPE.exec(t);
  if (dec) return parseDecimal(raw, Number(dec[1]), Number(dec[2]), ctx, deltaType);
  if (t === 'decimal') return parseDecimal(raw, 10, 0, ctx, 'decimal(10,0)');
  throw new MaltError('SCHEMA_MISMATCH', `${ctx}: partition columns of type ${deltaType} are not supported`);
}
