/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must
 * be a `# HELP`, a `# TYPE` or a sample `name{label="value",…} number`, each family declared
 * once with a known type before its samples; it throws on anything else.
 */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromExposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly PromSample[];
  /** Samples of `name` whose labels include every one of `labels`. */
  find(name: string, labels?: Readonly<Record<string, string>>): PromSample[];
  /** The one sample of `name` with exactly these labels' values (others may differ); throws when absent. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    labels[m[1] as string] = (m[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    at = re.lastIndex;
  }
  return labels;
}

/** The family a sample belongs to (histogram samples carry _bucket/_sum/_count suffixes). */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  const m = /^(.*)_(bucket|sum|count|total)$/.exec(name);
  return m && types.has(m[1] as string) ? m[1] : undefined;
}

export function parseProm(text: string): PromExposition {
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const name = line.slice(7).split(' ')[0] as string;
      if (!NAME.test(name) || helped.has(name)) throw new Error(`bad or repeated HELP: ${line}`);
      helped.add(name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!name || !NAME.test(name) || !type || !TYPES.has(type) || types.has(name)) throw new Error(`bad or repeated TYPE: ${line}`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    // Values as Prometheus reads them (Go's ParseFloat): NaN in any case (prom-client writes "Nan").
    const raw = m[3] as string;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : /^nan$/i.test(raw) ? NaN : Number(raw);
    if (Number.isNaN(value) && !/^nan$/i.test(raw)) throw new Error(`bad value: ${line}`);
    const name = m[1] as string;
    if (familyOf(name, types) === undefined) throw new Error(`sample before its TYPE: ${line}`);
    samples.push({ name, labels: parseLabels(m[2] ?? '', line), value });
  }
  const find = (name: string, labels: Readonly<Record<string, string>> = {}): PromSample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    types, samples, find,
    value: (name, labels = {}) => {
      const found = find(name, labels);
      if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
      return (found[0] as PromSample).value;
    },
  };
}
