/**
 * Hive-style partition folders (`dt=2024-01-01/country=FR/part-0.parquet`): parsing the `k=v`
 * levels between a source's root and its files, checking every file agrees on them, and picking
 * the newest value of the first level for `partition: latest`. Pure: no I/O.
 *
 * Why so strict about layout: a file that sits at `dt=1/` while another sits at `dt=1/h=2/` has
 * no value for `h`, and a reader that guessed (null? skip the file?) would serve rows the writer
 * never meant to publish. Spark refuses the same shapes ("Conflicting directory structures").
 */
import { MaltError } from '../errors.js';

/** Spark and Hive write a null (or empty-string) partition value as this folder name. */
export const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__';

export interface PartitionLevel {
  /** Column name, unescaped. */
  readonly key: string;
  /** Value, unescaped; null for `__HIVE_DEFAULT_PARTITION__`. */
  readonly value: string | null;
  /** The folder name as listed (`dt=2024-01-01`). */
  readonly segment: string;
}

/** One data file's folders below the root, in order (file name excluded). */
export interface FilePath {
  readonly location: string;
  readonly dirs: readonly string[];
}

export interface PartitionLayout {
  /** Partition columns in level order; empty when the files are not partitioned. */
  readonly columns: readonly string[];
  /** Per input file (same order): its levels, one per column. */
  readonly levels: readonly (readonly PartitionLevel[])[];
}

const PERCENT_RUN = /(?:%[0-9A-Fa-f]{2})+/g;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Undoes path escaping once. Spark escapes only ASCII (`:` → `%3A`, `%` → `%25`, `/`, `=`, …)
 * and writes other characters raw; URI-style writers (pyarrow) percent-encode UTF-8 bytes. A run
 * of `%XX` is therefore decoded as UTF-8 when it is valid UTF-8 and byte by byte otherwise;
 * a `%` not followed by two hex digits is kept as is (Spark's unescapePathName does the same).
 */
export function unescapePathName(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(PERCENT_RUN, (run) => {
    const bytes = Uint8Array.from(run.slice(1).split('%'), (hex) => Number.parseInt(hex, 16));
    try {
      return UTF8.decode(bytes);
    } catch {
      return String.fromCharCode(...bytes);
    }
  });
}

/** `k=v` → its level; any other folder name → null. Splits at the first `=` (keys are escaped). */
export function parsePartitionSegment(segment: string): PartitionLevel | null {
  const eq = segment.indexOf('=');
  if (eq <= 0) return null;
  const rawValue = segment.slice(eq + 1);
  return {
    key: unescapePathName(segment.slice(0, eq)),
    value: rawValue === HIVE_DEFAULT_PARTITION ? null : unescapePathName(rawValue),
    segment,
  };
}

function layoutError(uri: string, why: string): MaltError {
  return new MaltError('SOURCE_LAYOUT_INVALID', `source ${uri}: ${why}`);
}

function describe(levels: readonly PartitionLevel[]): string {
  return levels.length === 0 ? 'no partition folders' : levels.map((l) => `${l.key}=`).join('/');
}

/** The levels of one file, or null when none of its folders is `k=v`. Mixed paths are refused. */
function levelsOf(uri: string, file: FilePath): PartitionLevel[] | null {
  const parsed = file.dirs.map(parsePartitionSegment);
  if (parsed.every((p) => p === null)) return null;
  const plain = file.dirs.find((_, i) => parsed[i] === null);
  if (plain !== undefined) {
    throw layoutError(uri, `${file.location} is under folder "${plain}", which is not a k=v partition folder, next to partition folders; files of a partitioned table must sit only at its partition leaves`);
  }
  const levels = parsed as PartitionLevel[];
  const seen = new Set<string>();
  for (const l of levels) {
    if (seen.has(l.key)) throw layoutError(uri, `${file.location} names partition column "${l.key}" twice`);
    seen.add(l.key);
  }
  return levels;
}

/**
 * Partition columns and per-file levels. Files in plain (non `k=v`) folders at any depth are an
 * unpartitioned table. Otherwise every file must have the same keys in the same order, and no
 * plain folder among them; anything else is SOURCE_LAYOUT_INVALID naming two disagreeing files.
 */
export function partitionLayout(uri: string, files: readonly FilePath[]): PartitionLayout {
  const all = files.map((f) => levelsOf(uri, f));
  const firstIndex = all.findIndex((l) => l !== null);
  if (firstIndex < 0) return { columns: [], levels: files.map(() => []) };
  const reference = all[firstIndex] as PartitionLevel[];
  const referenceFile = (files[firstIndex] as FilePath).location;
  const levels = all.map((mine, i) => {
    const own = mine ?? [];
    const same = own.length === reference.length && own.every((l, j) => l.key === (reference[j] as PartitionLevel).key);
    if (!same) {
      throw layoutError(uri, `inconsistent partition folders: ${referenceFile} is under ${describe(reference)} but ${(files[i] as FilePath).location} is under ${describe(own)}; every file must sit under the same k=v levels`);
    }
    return own;
  });
  return { columns: reference.map((l) => l.key), levels };
}

const INTEGER = /^[+-]?\d+$/;
/** Date or zone-less date-time as Hive writes it; leading zeros optional (2024-1-9 < 2024-1-10). */
const DATE_TIME = /^(\d{1,6})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?)?$/;

function dateKey(value: string): number[] {
  const m = DATE_TIME.exec(value) as RegExpExecArray;
  const nums = m.slice(1, 7).map((g) => (g === undefined ? 0 : Number(g)));
  nums.push(Number((m[7] ?? '').padEnd(9, '0')));
  return nums;
}

function compareTuples(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * How `partition: latest` orders the first level's values: as integers when every value is an
 * integer (so 10 > 9), as dates/date-times when every value is one (so 2024-1-10 > 2024-1-9;
 * zero-padded ISO dates sort the same either way), else as strings by UTF-8 bytes.
 */
export function partitionValueOrder(values: readonly string[]): (a: string, b: string) => number {
  if (values.every((v) => INTEGER.test(v))) {
    return (a, b) => {
      const d = BigInt(a) - BigInt(b);
      return d === 0n ? 0 : d > 0n ? 1 : -1;
    };
  }
  if (values.every((v) => DATE_TIME.test(v))) return (a, b) => compareTuples(dateKey(a), dateKey(b));
  return (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Indexes of the files under the greatest value of the first partition level (null values never
 * win). Values that compare equal (`dt=01`, `dt=1` as integers) are all kept.
 */
export function latestPartitionFiles(uri: string, layout: PartitionLayout): number[] {
  const column = layout.columns[0];
  if (column === undefined) {
    throw layoutError(uri, 'partition: latest needs a Hive-partitioned folder (files under k=v folders such as dt=2024-01-01/), and no file here is under one');
  }
  const firstValues = layout.levels.map((l) => (l[0] as PartitionLevel).value);
  const present = [...new Set(firstValues.filter((v): v is string => v !== null))];
  if (present.length === 0) {
    throw layoutError(uri, `partition: latest found only null (${HIVE_DEFAULT_PARTITION}) values of ${column}`);
  }
  const order = partitionValueOrder(present);
  const greatest = present.reduce((best, v) => (order(v, best) > 0 ? v : best));
  const chosen: number[] = [];
  firstValues.forEach((v, i) => {
    if (v !== null && order(v, greatest) === 0) chosen.push(i);
  });
  return chosen;
}
