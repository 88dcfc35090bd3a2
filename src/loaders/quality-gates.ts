/**
 * Quality gates: the conditions a load must meet before it is published (dataset.checks). Each
 * gate yields a structured result when it fails, with its numbers, so a refused version shows
 * every reason at once (`malt versions`, GET /v1/datasets/:name/versions). No I/O.
 *
 * Two phases: the schema gate runs once the served columns are known, before a single row is
 * written (refusing a schema change costs no write); the row gates run after every row is
 * written. `--force` publishes anyway, and the failed gates are still recorded on the version.
 */
import type { DatasetConfig } from '../config.js';
import { MaltError } from '../errors.js';
import type { ColumnSpec } from '../model/types.js';
import type { CheckResult, VersionManifest } from '../model/version-manifest.js';

export type { CheckResult } from '../model/version-manifest.js';

/** What a finished load counted, for the row gates. */
export interface RowGateInputs {
  /** Rows read from the source, rejected ones included. */
  readonly rowsRead: number;
  /** Entities written (distinct keys). */
  readonly rows: number;
  readonly rejected: number;
  /** Entities of the served version; null when nothing is served. */
  readonly previousRows: number | null;
  /** Values stored as null per served column (null in the source, or not convertible). */
  readonly nulls: Readonly<Record<string, number>>;
  /** The served columns of the new version ([] for segments). */
  readonly columns: readonly ColumnSpec[];
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** The null-fraction limit of a column: its own entry, else the one for every column, else none. */
export function nullFractionLimit(dataset: DatasetConfig, column: string): number | null {
  const m = dataset.checks.maxNullFraction;
  return m.columns[column] ?? m.default;
}

/** Refuses a max_null_fraction mapping that names a column the load does not serve (a typo would silently check nothing). */
export function checkGateColumns(dataset: DatasetConfig, columns: readonly ColumnSpec[]): void {
  const served = new Set(columns.map((c) => c.name));
  const unknown = Object.keys(dataset.checks.maxNullFraction.columns).filter((c) => !served.has(c));
  if (unknown.length > 0) {
    throw new MaltError('SCHEMA_MISMATCH', `dataset ${dataset.name}: checks.max_null_fraction names ${unknown.map((c) => `"${c}"`).join(', ')}, not served column(s) (served: ${[...served].join(', ') || 'none'})`);
  }
}

/**
 * Served columns of the current version that the new one drops or serves with another type.
 * Empty when nothing is served yet. `allow_schema_change` does not hide them: the caller decides.
 */
export function schemaGate(newColumns: readonly ColumnSpec[], served: readonly ColumnSpec[] | null): CheckResult[] {
  if (served === null) return [];
  const now = new Map(newColumns.map((c) => [c.name, c.type] as const));
  const out: CheckResult[] = [];
  for (const col of served) {
    const type = now.get(col.name);
    if (type === col.type) continue;
    out.push({
      check: 'schema', column: col.name, actual: type ?? 'missing', limit: col.type,
      message: type === undefined
        ? `served column "${col.name}" (${col.type}) is missing from the new version`
        : `served column "${col.name}" changes type from ${col.type} to ${type}`,
    });
  }
  return out;
}

/** min_rows, max_rejected_fraction, max_row_drop_fraction and max_null_fraction, every failure. */
export function rowGates(dataset: DatasetConfig, s: RowGateInputs): CheckResult[] {
  const { minRows, maxRejectedFraction, maxRowDropFraction } = dataset.checks;
  const out: CheckResult[] = [];
  if (s.rows < minRows) {
    out.push({ check: 'min_rows', column: null, actual: s.rows, limit: minRows, message: `${s.rows} rows loaded, fewer than checks.min_rows (${minRows})` });
  }
  if (s.rowsRead > 0 && s.rejected / s.rowsRead > maxRejectedFraction) {
    const f = s.rejected / s.rowsRead;
    out.push({ check: 'max_rejected_fraction', column: null, actual: f, limit: maxRejectedFraction, message: `${s.rejected} of ${s.rowsRead} rows rejected (${pct(f)}), more than checks.max_rejected_fraction (${maxRejectedFraction})` });
  }
  if (maxRowDropFraction !== null && s.previousRows !== null && s.previousRows > 0 && s.rows < s.previousRows * (1 - maxRowDropFraction)) {
    const drop = 1 - s.rows / s.previousRows;
    out.push({ check: 'max_row_drop_fraction', column: null, actual: drop, limit: maxRowDropFraction, message: `${s.rows} rows vs ${s.previousRows} in the current version, a drop of ${pct(drop)}, more than checks.max_row_drop_fraction (${maxRowDropFraction})` });
  }
  if (s.rowsRead > 0) {
    for (const col of s.columns) {
      const limit = nullFractionLimit(dataset, col.name);
      if (limit === null) continue;
      const nulls = s.nulls[col.name] ?? 0;
      const f = nulls / s.rowsRead;
      if (f > limit) {
        out.push({ check: 'max_null_fraction', column: col.name, actual: f, limit, message: `column "${col.name}": ${nulls} of ${s.rowsRead} values null (${pct(f)}), more than checks.max_null_fraction (${limit})` });
      }
    }
  }
  return out;
}

/**
 * The refusal for failed gates: SCHEMA_MISMATCH when a schema gate failed, else CHECK_FAILED; the
 * message lists them all. `repeatOf`: the failed version whose refusal this repeats.
 */
export function gateError(dataset: DatasetConfig, failed: readonly CheckResult[], repeatOf?: number): MaltError {
  const schema = failed.some((c) => c.check === 'schema');
  const hint = schema ? ' (set checks.allow_schema_change, or load with --force)' : ' (load with --force to publish anyway)';
  const list = failed.map((c) => c.message).join('; ');
  const what = failed.length === 1 ? '1 check' : `${failed.length} checks`;
  const again = repeatOf === undefined ? '' : ` (source and declaration unchanged since version ${repeatOf} was refused; no data was read)`;
  return new MaltError(schema ? 'SCHEMA_MISMATCH' : 'CHECK_FAILED', `${dataset.name}: refused by ${what}: ${list}; nothing was published${again}${hint}`);
}

/**
 * The refused version a load would only repeat: the newest finished version was refused by the
 * gates with the same fingerprint (source snapshot and declaration), and the version served now
 * was already served then, so every gate would fail the same way. A poll of an unchanged but
 * refused source then reads no data file and writes nothing. `versions` newest first.
 */
export function repeatedRefusal(versions: readonly VersionManifest[], current: number | null, fingerprint: string): VersionManifest | null {
  const newest = versions.find((v) => v.state === 'failed' || v.state === 'published');
  if (!newest || newest.state !== 'failed' || newest.fingerprint !== fingerprint || newest.checks.length === 0) return null;
  if (current === null) return newest;
  const served = versions.find((v) => v.id === current);
  if (!served?.currentSince || Date.parse(served.currentSince) > Date.parse(newest.loadedAt)) return null;
  return newest;
}
