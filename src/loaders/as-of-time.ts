/**
 * `malt load --as-of <RFC 3339>`: the as-of time an operator gives a version instead of the
 * source's own (the Delta commit time, or the newest Parquet file's mtime). Updates with an event
 * time after it keep applying on top of the version; older ones are superseded (docs/updates.md).
 */
import { parseTimestampMicros } from '../column-types.js';
import { MaltError } from '../errors.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** A little clock skew between the operator's clock and this host's is not a future time. */
const FUTURE_SKEW_MS = 60_000;

/**
 * Parses and normalises an as-of time to UTC RFC 3339 (µs kept when given). Throws
 * INVALID_ARGUMENT when it is not RFC 3339 with a zone, before 1970, or more than a minute
 * after `now` (data cannot reflect events that have not happened yet).
 */
export function parseAsOfTime(text: string, now: Date = new Date()): string {
  const us = RFC3339.test(text) ? parseTimestampMicros(text) : null;
  if (us === null) throw new MaltError('INVALID_ARGUMENT', `--as-of must be an RFC 3339 time with a zone, such as 2026-05-01T12:00:00Z; got ${JSON.stringify(text)}`);
  if (us < 0n) throw new MaltError('INVALID_ARGUMENT', `--as-of ${text} is before 1970-01-01T00:00:00Z`);
  if (us > BigInt(now.getTime() + FUTURE_SKEW_MS) * 1000n) throw new MaltError('INVALID_ARGUMENT', `--as-of ${text} is in the future (now ${now.toISOString()})`);
  const ms = us / 1000n;
  const iso = new Date(Number(ms)).toISOString();
  const extra = us - ms * 1000n;
  return extra === 0n ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
}
