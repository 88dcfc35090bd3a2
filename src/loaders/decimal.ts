/**
 * Exact decimals. hyparquet turns Parquet DECIMAL into a JS double (inexact past 15 digits), so
 * the reader asks it for the raw unscaled integer instead (see parquet-reader.ts) and this module
 * builds the exact value: the unscaled integer plus the table's scale, served as canonical text
 * with exactly `scale` fraction digits ("-12.30" for decimal(p,2)).
 */

/** A decimal read exactly: unscaled × 10^-scale. */
export class DecimalValue {
  constructor(readonly unscaled: bigint, readonly scale: number) {}

  /** Canonical text: optional '-', integer digits (at least one), '.', exactly `scale` digits. */
  toText(): string {
    const neg = this.unscaled < 0n;
    const digits = (neg ? -this.unscaled : this.unscaled).toString().padStart(this.scale + 1, '0');
    const int = digits.slice(0, digits.length - this.scale);
    const frac = this.scale > 0 ? `.${digits.slice(digits.length - this.scale)}` : '';
    return `${neg ? '-' : ''}${int}${frac}`;
  }

  /** The same number at another scale; null when it would lose digits (a narrower scale). */
  rescale(scale: number): DecimalValue | null {
    if (scale === this.scale) return this;
    if (scale > this.scale) return new DecimalValue(this.unscaled * 10n ** BigInt(scale - this.scale), scale);
    const f = 10n ** BigInt(this.scale - scale);
    return this.unscaled % f === 0n ? new DecimalValue(this.unscaled / f, scale) : null;
  }
}

export interface DecimalType { readonly precision: number; readonly scale: number }

/** `decimal(p,s)` (Delta's spelling) → {precision, scale}; null for anything else. */
export function parseDecimalType(type: unknown): DecimalType | null {
  if (typeof type !== 'string') return null;
  const m = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(type);
  if (!m) return null;
  return { precision: Number(m[1]), scale: Number(m[2]) };
}

/** Big-endian two's-complement bytes (Parquet FIXED_LEN_BYTE_ARRAY / BYTE_ARRAY decimals) → bigint. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return (bytes[0] as number) & 0x80 ? v - (1n << BigInt(bytes.length * 8)) : v;
}

/** A raw unscaled value as hyparquet returns it with the decimal annotation cleared. */
export function unscaledOf(raw: unknown): bigint | null {
  if (typeof raw === 'bigint') return raw;
  if (typeof raw === 'number' && Number.isInteger(raw)) return BigInt(raw);
  if (raw instanceof Uint8Array) return bytesToBigInt(raw);
  return null;
}

/** Decimal text ("-2342342.23423", "1E+2", "234") at `scale`; null when not a decimal or digits would be lost. */
export function parseDecimalText(text: string, scale: number): DecimalValue | null {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || ((m[2] ?? '') === '' && (m[3] ?? '') === '')) return null;
  const frac = m[3] ?? '';
  const exp = Number(m[4] ?? '0');
  let unscaled = BigInt(`${m[2] || '0'}${frac}`);
  if (m[1] === '-') unscaled = -unscaled;
  const textScale = frac.length - exp;
  if (textScale < 0) return new DecimalValue(unscaled * 10n ** BigInt(-textScale), 0).rescale(scale);
  return new DecimalValue(unscaled, textScale).rescale(scale);
}
