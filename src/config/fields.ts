/**
 * The leaf types of the config schema (zod), each with the error message users see and the
 * documentation the reference tables in docs/configuration.md are generated from. A YAML key
 * written with no value (`key:` → null) means "use the default", as an absent key does.
 */
import * as z from 'zod';

/** What the docs generator prints for a key (scripts/gen-config-docs.mjs reads it). */
export type FieldDoc = {
  readonly doc: string;
  /** Shown in the Type column; defaults to the zod type. */
  readonly type?: string;
  /** Shown in the Default column when it is not a plain value (e.g. "required", "none"). */
  readonly shownDefault?: string;
  /** Shown in the Range column. */
  readonly range?: string;
  /** Environment variable that overrides the key. */
  readonly env?: string;
};

export const nullToUndefined = (v: unknown): unknown => (v === null ? undefined : v);

const got = (input: unknown): string => (input === undefined ? 'nothing' : JSON.stringify(input));

export function integer(def: number, min: number, max: number, doc: FieldDoc) {
  const error = (iss: { input?: unknown }): string => `must be an integer between ${min} and ${max}, got ${got(iss.input)}`;
  return z.preprocess(
    (v) => (v === null ? undefined : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
    z.number({ error }).int({ error }).min(min, { error }).max(max, { error }).default(def),
  ).meta({ ...doc, range: doc.range ?? `${min}–${max}` });
}

export function optionalInteger(min: number, max: number, doc: FieldDoc) {
  const error = (iss: { input?: unknown }): string => `must be an integer between ${min} and ${max}, got ${got(iss.input)}`;
  return z.preprocess(
    (v) => (v === undefined ? null : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
    z.number({ error }).int({ error }).min(min, { error }).max(max, { error }).nullable(),
  ).meta({ shownDefault: 'none', ...doc, range: doc.range ?? `${min}–${max}` });
}

function fractionType() {
  const error = (iss: { input?: unknown }): string => `must be a number between 0 and 1, got ${got(iss.input)}`;
  return z.number({ error }).min(0, { error }).max(1, { error });
}

export function fraction(def: number, doc: FieldDoc) {
  return z.preprocess(nullToUndefined, fractionType().default(def)).meta({ range: '0–1', ...doc });
}

export function optionalFraction(doc: FieldDoc) {
  return z.preprocess((v) => (v === undefined ? null : v), fractionType().nullable()).meta({ range: '0–1', shownDefault: 'none', ...doc });
}

/** A fraction for every column, or a mapping column → fraction. */
export function fractionPerColumn(doc: FieldDoc) {
  return z.preprocess(
    (v) => (v === undefined ? null : v),
    z.union([fractionType(), z.record(z.string(), fractionType())], { error: (iss) => `must be a number between 0 and 1 or a mapping column → number, got ${got(iss.input)}` }).nullable(),
  ).meta({ shownDefault: 'none', type: 'number \\| mapping', range: '0–1', ...doc });
}

export function requiredString(doc: FieldDoc) {
  return z.string({ error: (iss) => (iss.input === undefined || iss.input === null ? 'is required' : `must be a non-empty string, got ${got(iss.input)}`) })
    .min(1, { error: 'must be a non-empty string, got ""' })
    .meta({ shownDefault: 'required', ...doc });
}

export function optionalString(doc: FieldDoc) {
  return z.preprocess(
    (v) => (v === undefined ? null : v),
    z.string({ error: (iss) => `must be a non-empty string, got ${got(iss.input)}` }).min(1, { error: 'must be a non-empty string, got ""' }).nullable(),
  ).meta({ shownDefault: 'none', ...doc });
}

export function stringWithDefault(def: string, doc: FieldDoc) {
  return z.preprocess(
    nullToUndefined,
    z.string({ error: (iss) => `must be a non-empty string, got ${got(iss.input)}` }).min(1, { error: 'must be a non-empty string, got ""' }).default(def),
  ).meta(doc);
}

export function boolean(def: boolean, doc: FieldDoc) {
  // `true` / `false` as strings too: that is how an environment variable (doc.env) spells them.
  return z.preprocess((v) => (v === null ? undefined : v === 'true' ? true : v === 'false' ? false : v), z.boolean({ error: (iss) => `must be true or false, got ${got(iss.input)}` }).default(def)).meta(doc);
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, def: T[number], doc: FieldDoc) {
  return z.preprocess(
    nullToUndefined,
    z.enum(values, { error: (iss) => `must be ${values.length === 2 ? values.join(' or ') : `one of ${values.join(', ')}`}, got ${got(iss.input)}` }).default(def as never),
  ).meta({ type: values.map((v) => `\`${v}\``).join(' \\| '), ...doc });
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration: milliseconds as a number, or a string such as 500ms, 30s, 5m, 1h. Output: ms. */
export function duration(def: number, min: number, max: number, doc: FieldDoc) {
  const error = `must be a duration between ${min} ms and ${max} ms (e.g. 30s, 5m, 1h)`;
  return z.preprocess(
    (v) => {
      if (v === null || v === undefined) return undefined;
      if (typeof v === 'string') {
        const m = DURATION.exec(v.trim());
        return m ? Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number)) : v;
      }
      return v;
    },
    z.number({ error: (iss) => `${error}, got ${got(iss.input)}` }).min(min, { error: (iss) => `${error}, got ${got(iss.input)} ms` }).max(max, { error: (iss) => `${error}, got ${got(iss.input)} ms` }).default(def),
  ).meta({ type: 'duration', range: `${min} ms – ${max / 86_400_000} d`, ...doc });
}

/** duration() without a default: absent or null → null (the feature is off). */
export function optionalDuration(min: number, max: number, doc: FieldDoc) {
  const error = `must be a duration between ${min} ms and ${max} ms (e.g. 30s, 5m, 26h)`;
  return z.preprocess(
    (v) => {
      if (v === null || v === undefined) return null;
      if (typeof v === 'string') {
        const m = DURATION.exec(v.trim());
        return m ? Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number)) : v;
      }
      return v;
    },
    z.number({ error: (iss) => `${error}, got ${got(iss.input)}` }).min(min, { error: (iss) => `${error}, got ${got(iss.input)} ms` }).max(max, { error: (iss) => `${error}, got ${got(iss.input)} ms` }).nullable(),
  ).meta({ type: 'duration', range: `${min} ms – ${max / 86_400_000} d`, shownDefault: 'none', ...doc });
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 instant (YAML may hand a Date for an unquoted timestamp); output: the string. */
export function optionalInstant(doc: FieldDoc) {
  const error = (iss: { input?: unknown }): string => `must be an RFC 3339 time such as 2026-01-31T12:00:00Z, got ${got(iss.input)}`;
  return z.preprocess(
    (v) => (v === undefined ? null : v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString() : v),
    z.string({ error }).refine((s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)), { error }).nullable(),
  ).meta({ type: 'RFC 3339 time', shownDefault: 'none', ...doc });
}

/** A mapping section: unknown keys are reported with the allowed ones; absent or null = all defaults. */
export function section<S extends z.ZodRawShape>(shape: S, doc?: FieldDoc) {
  const allowed = Object.keys(shape).join(', ');
  const obj = z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key (allowed: ${allowed})` : `must be a mapping, got ${got(iss.input)}`),
  });
  return doc ? obj.meta(doc) : obj;
}

/** A section that may be omitted (null or absent → every default). */
export function optionalSection<S extends z.ZodRawShape>(shape: S, doc?: FieldDoc) {
  const inner = section(shape);
  return z.preprocess((v) => (v === null || v === undefined ? {} : v), inner).meta(doc ?? { doc: '' });
}
