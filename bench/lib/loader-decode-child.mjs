#!/usr/bin/env node
/**
 * The decode-alone baseline of the loader workload, run as its own process (so its time and
 * peak RSS compare with a `malt load` process): hyparquet reading every column of every file in
 * a folder, one row group at a time, with the calls malt's reader makes (parquetReadObjects,
 * hyparquet-compressors, utf8: false) and nothing else: no conversion, no encoding, no Redis.
 *
 *   node bench/lib/loader-decode-child.mjs <parquet dir>   → one JSON line {rows, files, seconds}
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: loader-decode-child.mjs <parquet dir>');
  process.exit(2);
}
const files = readdirSync(dir).filter((f) => f.endsWith('.parquet')).sort();
const t0 = performance.now();
let rows = 0;
let checksum = 0;
for (const f of files) {
  const file = await asyncBufferFromFile(path.join(dir, f));
  const metadata = await parquetMetadataAsync(file);
  let start = 0;
  for (const group of metadata.row_groups) {
    const end = start + Number(group.num_rows);
    const objects = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: end, compressors, utf8: false });
    rows += objects.length;
    // Touch one value per row so the decoded rows cannot be optimised away.
    for (const o of objects) checksum += o.player_id.length;
    start = end;
  }
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ rows, files: files.length, seconds, checksum }));
