/**
 * The JSON of a stored row's DatasetResult rendered straight from its decoded values, with
 * every constant part (the header, each column's key, the status suffixes, a defaulted or null
 * column whole) rendered once per served version: a miss builds no Feature objects and
 * stringifies no names. The text is exactly what dataset-result.ts's renderJson makes of the
 * same features (test/row-json.test.ts), so cached, degraded and lazily rendered results agree.
 */
import type { TypedValue } from '../column-types.js';
import { jsonValue } from './dataset-result.js';
import type { ServedVersion } from './version-tracker.js';

interface ColumnText {
  /** `"name":{"value":` (with the leading comma after the first column). */
  readonly head: string;
  /** The whole column when the row has no value there: its default, else null with this status. */
  readonly defaulted: string | null;
  readonly nullValue: string;
  readonly notFound: string;
}

interface RowTemplate {
  readonly foundHeader: string;
  /** The whole result for an entity without a row (the same for every such entity). */
  readonly notFound: string;
  readonly columns: readonly ColumnText[];
  readonly present: string;
}

const templates = new WeakMap<ServedVersion, RowTemplate>();

function template(v: ServedVersion): RowTemplate {
  let t = templates.get(v);
  if (t !== undefined) return t;
  const header = (found: boolean): string => `{"dataset":${JSON.stringify(v.config.name)},"version":"${v.versionString}","found":${found},"features":{`;
  const columns = v.columns.map((col, c): ColumnText => {
    const head = `${c === 0 ? '' : ','}${JSON.stringify(col.name)}:{"value":`;
    const def = v.defaults[c] ?? null;
    return {
      head,
      defaulted: def === null ? null : `${head}${jsonValue(col.type, def)},"status":"DEFAULTED"}`,
      nullValue: `${head}null,"status":"NULL_VALUE"}`,
      notFound: `${head}null,"status":"NOT_FOUND"}`,
    };
  });
  let notFound = header(false);
  for (const c of columns) notFound += c.defaulted ?? c.notFound;
  t = { foundHeader: header(true), notFound: `${notFound}}}`, columns, present: `,"status":"${v.stale ? 'STALE' : 'PRESENT'}"}` };
  templates.set(v, t);
  return t;
}

/** The JSON of a features dataset's result from its row's decoded values (null: no row). */
export function rowJson(v: ServedVersion, values: readonly (TypedValue | null)[] | null): string {
  const t = template(v);
  if (values === null) return t.notFound;
  let out = t.foundHeader;
  const cols = v.columns;
  for (let c = 0; c < cols.length; c++) {
    const text = t.columns[c]!;
    const value = values[c] ?? null;
    if (value !== null) out += `${text.head}${jsonValue(cols[c]!.type, value)}${t.present}`;
    else out += text.defaulted ?? text.nullValue;
  }
  return `${out}}}`;
}
