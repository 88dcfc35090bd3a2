#!/usr/bin/env node
/**
 * The decode-alone baseline with the loader's parallelism: the same hyparquet calls as
 * loader-decode-child.mjs (parquetReadObjects per row group, hyparquet-compressors, utf8: false,
 * nothing else), split over N worker threads the way `malt load` with `loader.workers: N` splits
 * a table (row group i of the table to thread i mod N). Run as its own process, so its wall
 * time, CPU time and peak RSS compare with a parallel `malt load` process.
 *
 *   node bench/lib/loader-decode-parallel-child.mjs <parquet dir> <threads>   → one JSON line {rows, files, threads, seconds}
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

/** Every row group of the folder's files, in table order: [file, first row, end row]. */
async function rowGroups(dir) {
  const out = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.parquet')).sort()) {
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path.join(dir, f)));
    let start = 0;
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      out.push([path.join(dir, f), start, end]);
      start = end;
    }
  }
  return out;
}

if (isMainThread) {
  const [dir, n] = [process.argv[2], Number(process.argv[3] ?? 2)];
  if (!dir || !(n >= 1)) {
    console.error('usage: loader-decode-parallel-child.mjs <parquet dir> <threads>');
    process.exit(2);
  }
  const t0 = performance.now();
  const groups = await rowGroups(dir);
  const shares = Array.from({ length: n }, (_, w) => groups.filter((_, i) => i % n === w));
  const counts = await Promise.all(shares.map((share) => new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: share });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const seconds = (performance.now() - t0) / 1000;
  const files = new Set(groups.map((g) => g[0])).size;
  console.log(JSON.stringify({ rows: counts.reduce((a, c) => a + c.rows, 0), files, threads: n, seconds, checksum: counts.reduce((a, c) => a + c.checksum, 0) }));
} else {
  let rows = 0;
  let checksum = 0;
  const open = new Map();
  for (const [file, start, end] of workerData) {
    if (!open.has(file)) {
      const buf = await asyncBufferFromFile(file);
      open.set(file, { buf, metadata: await parquetMetadataAsync(buf) });
    }
    const { buf, metadata } = open.get(file);
    const objects = await parquetReadObjects({ file: buf, metadata, rowStart: start, rowEnd: end, compressors, utf8: false });
    rows += objects.length;
    // Touch one value per row so the decoded rows cannot be optimised away.
    for (const o of objects) checksum += o.player_id.length;
  }
  parentPort.postMessage({ rows, checksum });
}
