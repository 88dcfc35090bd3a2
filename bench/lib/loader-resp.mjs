/**
 * The `redis-cli --pipe` baseline's input: what malt's loader writes for the same rows, written
 * once next to the table. One `HSET <bucket key> <player id> <bin1 row>` per row (malt itself
 * sends one multi-field HSET per bucket per batch, store/snapshot-writer.ts: same hashes, fields
 * and values, fewer and larger commands),
 * with the bucket key, the bucket count and the row bytes from malt's own modules in dist/
 * (keys.ts, row-codec.ts, one string dictionary over the table in file order, as a load builds
 * it), so the baseline writes the same keys, fields and value bytes into Redis. The loader
 * workload checks that claim after the malt load by comparing sampled values (checks.sameBytes).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { KeyLayout, bucketCountFor, bucketOf } from '../../dist/keys.js';
import { StringDictionaryBuilder, encodeRow } from '../../dist/row-codec.js';

const CHUNK = 4 * 2 ** 20;

export class RespWriter {
  /**
   * @param file where to write the stream
   * @param totalRows rows in the table (sets the bucket count, as the loader does from the footers)
   * @param layout {prefix, dataset, columns} the key prefix, dataset name and served columns
   */
  constructor(file, totalRows, { prefix, dataset, columns }) {
    this.fd = openSync(file, 'w');
    this.buckets = bucketCountFor(totalRows);
    // Version 1: each malt load runs on a fresh redis-server, so its first version is 1.
    this.keyPrefix = new KeyLayout(prefix).bucketPrefix(dataset, 1);
    this.columns = columns;
    this.dict = new StringDictionaryBuilder();
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    this.bytes = 0;
    this.valueBytes = 0;
    this.samples = [];
    this.rows = 0;
  }

  /** Appends one file's rows ({column: values[]}, `player_id` the key). */
  addRows(cols) {
    const ids = cols.player_id;
    const columns = this.columns;
    const values = new Array(columns.length);
    for (let r = 0; r < ids.length; r++) {
      for (let c = 0; c < columns.length; c++) values[c] = cols[columns[c].name][r];
      const row = encodeRow(columns, values, this.dict);
      const id = ids[r];
      this.command(`${this.keyPrefix}${bucketOf(id, this.buckets)}`, id, row);
      this.valueBytes += row.length;
      // Every 9973rd row is kept to compare with what malt wrote (a prime: spread over buckets).
      if (this.rows++ % 9973 === 0 && this.samples.length < 200) this.samples.push({ key: `${this.keyPrefix}${bucketOf(id, this.buckets)}`, field: id, value: row.toString('base64') });
    }
  }

  command(key, field, value) {
    const head = `*4\r\n$4\r\nHSET\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n$${Buffer.byteLength(field)}\r\n${field}\r\n$${value.length}\r\n`;
    const need = Buffer.byteLength(head) + value.length + 2;
    if (this.pos + need > this.buf.length) this.flush();
    this.pos += this.buf.write(head, this.pos, 'utf8');
    value.copy(this.buf, this.pos);
    this.pos += value.length;
    this.buf[this.pos++] = 13;
    this.buf[this.pos++] = 10;
    this.bytes += need;
  }

  flush() {
    if (this.pos > 0) writeSync(this.fd, this.buf, 0, this.pos);
    this.pos = 0;
  }

  /** Flushes and closes; returns {bytes, valueBytes, samples, buckets}. */
  close() {
    this.flush();
    closeSync(this.fd);
    return { bytes: this.bytes, valueBytes: this.valueBytes, samples: this.samples, buckets: this.buckets };
  }
}
