/**
 * The Grafana dashboard (deploy/grafana/) and the Prometheus alert rules (deploy/prometheus/)
 * reference only metrics a running malt exports, with labels those metrics have: every metric
 * name in their PromQL is checked against a scrape of a serving app, and every label matcher
 * against the metric's label names.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { metrics } from '../src/telemetry/metrics.js';
import { appsClosedAfterAll, featuresDataset, load, makeConfig, serve, tmpDir, writePlayers } from './support/fixtures.js';
import { parseProm } from './support/prom-text.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const apps = appsClosedAfterAll();

interface Panel { title: string; type: string; targets?: { expr: string }[]; panels?: Panel[] }
interface Rule { alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string } }

const dashboard = JSON.parse(readFileSync(path.join(root, 'deploy/grafana/malt-dashboard.json'), 'utf8')) as { title: string; uid: string; panels: Panel[]; templating: { list: { name: string; query: unknown }[] } };
const alerts = parse(readFileSync(path.join(root, 'deploy/prometheus/malt-alerts.yml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };

function dashboardExprs(): string[] {
  const out: string[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push(t.expr);
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) if (typeof v.query === 'string' && v.query.includes('(')) out.push(v.query);
  return out;
}

const alertExprs = (): string[] => alerts.groups.flatMap((g) => g.rules.map((r) => r.expr));

/** Metric names in a PromQL expression (malt's own and the process metrics), with the label names matched on each. */
function references(expr: string): { name: string; labels: string[] }[] {
  const out: { name: string; labels: string[] }[] = [];
  for (const m of expr.matchAll(/\b((?:malt|process|nodejs)_[a-z0-9_]+)(\{[^}]*\})?/g)) {
    const labels = m[2] ? [...m[2].matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1] as string) : [];
    out.push({ name: m[1] as string, labels });
  }
  return out;
}

function balanced(expr: string): boolean {
  let depth = 0;
  for (const c of expr.replace(/"[^"]*"/g, '')) {
    if (c === '(' || c === '{' || c === '[') depth++;
    if (c === ')' || c === '}' || c === ']') depth--;
    if (depth < 0) return false;
  }
  return depth === 0;
}

/** Label names of malt's families; Prometheus adds job and instance; histogram buckets have le. */
const familyLabels = new Map<string, readonly string[]>(Object.values(metrics).map((f) => [f.name, f.labelNames]));

describe('deploy/grafana and deploy/prometheus', () => {
  it('the alert rules cover stale snapshots, refused loads, error rate and Redis latency, each well-formed', () => {
    const rules = alerts.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['MaltSnapshotStale', 'MaltLoadRefused', 'MaltHighErrorRate', 'MaltRedisLatencyHigh']));
    for (const r of rules) {
      expect(r.alert).toMatch(/^Malt[A-Za-z]+$/);
      expect(['critical', 'warning', 'info']).toContain(r.labels.severity);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
      expect(balanced(r.expr), r.expr).toBe(true);
      expect(references(r.expr).length, r.alert).toBeGreaterThan(0);
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it('the dashboard has panels with PromQL targets', () => {
    expect(dashboard.uid).toBe('malt-overview');
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(20);
    for (const e of exprs) expect(balanced(e), e).toBe(true);
  });

  it('every metric they reference is exported by a running malt, with the labels they match on', async () => {
    const dir = tmpDir();
    const lake = path.join(dir, 'p.parquet');
    writePlayers(lake, [{ id: 'a', ltv: 1, level: 1, country: 'DE', is_payer: true, last_login: null, tags: null }]);
    const config = makeConfig({ datasets: [featuresDataset('dp_pf', lake, { updates: { enabled: true }, updates_stream: 'dp_stream' })] });
    await load(config, 'dp_pf');
    const app = await serve(config);
    apps.push(app);
    const res = await fetch(`http://127.0.0.1:${app.httpPort}/metrics`);
    expect(res.status).toBe(200);
    const prom = parseProm(await res.text());
    const exported = (name: string): string | undefined => {
      if (prom.types.has(name)) return name;
      const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
      return base !== undefined && prom.types.get(base) === 'histogram' ? base : undefined;
    };
    const refs = [...dashboardExprs(), ...alertExprs()].flatMap(references);
    expect(refs.length).toBeGreaterThan(30);
    const missing = refs.filter((r) => exported(r.name) === undefined).map((r) => r.name);
    expect(missing).toEqual([]);
    for (const r of refs) {
      const family = exported(r.name) as string;
      const known = familyLabels.get(family);
      if (!known) continue; // prom-client's process metrics: matched on job/instance only
      const allowed = new Set([...known, 'job', 'instance', ...(r.name.endsWith('_bucket') ? ['le'] : [])]);
      for (const l of r.labels) expect(allowed.has(l), `${r.name} has no label ${l}`).toBe(true);
    }
  });
});
