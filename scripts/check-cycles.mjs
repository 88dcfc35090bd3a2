#!/usr/bin/env node
// Fails (exit 1) listing every import cycle among src/**/*.ts, counting relative `import`,
// `import type` and `export … from` alike. Usage: node scripts/check-cycles.mjs [dir, default src/]
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const src = process.argv[2] ? path.resolve(process.argv[2]) : fileURLToPath(new URL('../src/', import.meta.url));
const files = readdirSync(src, { recursive: true }).filter((f) => String(f).endsWith('.ts')).map((f) => path.join(src, String(f)));
const graph = new Map();
const spec = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g;
for (const f of files) {
  const deps = new Set();
  for (const m of readFileSync(f, 'utf8').matchAll(spec)) deps.add(path.resolve(path.dirname(f), m[1].replace(/\.js$/, '.ts')));
  graph.set(f, [...deps].filter((d) => graph.has(d) || files.includes(d)));
}
const cycles = new Set();
const state = new Map();
const stack = [];
function visit(n) {
  state.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (state.get(d) === 1) cycles.add(stack.slice(stack.indexOf(d)).concat(d).map((p) => path.relative(src, p)).join(' -> '));
    else if (!state.has(d)) visit(d);
  }
  stack.pop();
  state.set(n, 2);
}
for (const f of files) if (!state.has(f)) visit(f);
if (cycles.size > 0) {
  console.error(`import cycles in src/ (${cycles.size}):\n${[...cycles].map((c) => `  ${c}`).join('\n')}`);
  process.exit(1);
}
console.log(`no import cycles in src/ (${files.length} files)`);
