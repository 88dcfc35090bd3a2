#!/usr/bin/env node
// Fails (exit 1) listing every import cycle among src/**/*.ts, counting relative `import`,
// `import type` and `export … from` alike; then the same among folders: src/<folder>/ as one
// unit (each file directly in src/ is its own), so that, say, cache/ and serving/ never import
// each other even through different files. FOLDER_EDGES_ALLOWED lists the folder imports a
// cycle may use, each with why (none today). Usage: node scripts/check-cycles.mjs [dir, default src/]
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

/** Every cycle a depth-first walk of `g` (node → deps) meets, each as its nodes in order. */
function findCycles(g) {
  const cycles = [];
  const state = new Map();
  const stack = [];
  function visit(n) {
    state.set(n, 1);
    stack.push(n);
    for (const d of g.get(n) ?? []) {
      if (state.get(d) === 1) cycles.push(stack.slice(stack.indexOf(d)).concat(d));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  }
  for (const n of g.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

// 'from/ -> to/': why this folder import may close a cycle. Keep it empty: move the shared
// piece into model/ (types) or a lower folder instead.
const FOLDER_EDGES_ALLOWED = new Map([]);

const unitOf = (f) => {
  const parts = path.relative(src, f).split(path.sep);
  return parts.length > 1 ? `${parts[0]}/` : parts[0];
};
const folderGraph = new Map();
const witness = new Map(); // 'a/ -> b/' → one file import that makes it
for (const [f, deps] of graph) {
  const a = unitOf(f);
  if (!folderGraph.has(a)) folderGraph.set(a, new Set());
  for (const d of deps) {
    const b = unitOf(d);
    const edge = `${a} -> ${b}`;
    if (a === b || FOLDER_EDGES_ALLOWED.has(edge)) continue;
    folderGraph.get(a).add(b);
    if (!witness.has(edge)) witness.set(edge, `${path.relative(src, f)} imports ${path.relative(src, d)}`);
  }
}

const fileCycles = new Set(findCycles(graph).map((c) => c.map((p) => path.relative(src, p)).join(' -> ')));
const folderCycles = new Set(findCycles(folderGraph).map((c) =>
  `${c.join(' -> ')}\n${c.slice(1).map((b, i) => `      (${witness.get(`${c[i]} -> ${b}`)})`).join('\n')}`));
if (fileCycles.size > 0) console.error(`import cycles in src/ (${fileCycles.size}):\n${[...fileCycles].map((c) => `  ${c}`).join('\n')}`);
if (folderCycles.size > 0) console.error(`folder import cycles in src/ (${folderCycles.size}):\n${[...folderCycles].map((c) => `  ${c}`).join('\n')}`);
if (fileCycles.size > 0 || folderCycles.size > 0) process.exit(1);
console.log(`no import cycles in src/ (${files.length} files, ${folderGraph.size} folders and top-level modules)`);
