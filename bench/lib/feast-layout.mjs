/**
 * Feast-style copies of the sample lake in the same Redis, for the memory comparison and for the
 * naive fastify+ioredis baseline. The rows are read from the same Parquet files malt loads (with
 * hyparquet, as malt's loader does; nothing here depends on malt's internal row format), and
 * written as one hash per entity:
 *
 *   feast-minimal  key "<prefix><id>", one field per feature named by the feature, the value as a
 *                  string (doubles/ints in decimal, bools "true"/"false", timestamps as epoch
 *                  microseconds, lists as JSON); a null value has no field. The smallest
 *                  hash-per-entity layout we could think of: the conservative comparison.
 *   feast-like     what Feast's Redis online store writes: the key is the serialized entity key
 *                  (join key and value with 4-byte type and length headers) + the project name;
 *                  each field is the 4-byte murmur3 hash of "feature_view:feature"; values are
 *                  serialized feast.types.Value protos (empty for null); plus a
 *                  "_ts:feature_view" field holding a google.protobuf.Timestamp.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

export const FEAST_MINIMAL_PREFIX = 'fs:';
const FEAST_PROJECT = 'bench';
const FEATURE_VIEW = 'player_features';

/** Timestamps as integer microseconds, like malt's loader. */
const PARSERS = {
  timestampFromMilliseconds: (ms) => Number(ms) * 1000,
  timestampFromMicroseconds: (us) => Number(us),
  timestampFromNanoseconds: (ns) => Number(ns / 1000n),
};

/**
 * Calls `onRows(rows)` with [id, values[]] pairs (values aligned with `columns`, null for null),
 * one Parquet row group at a time, for every file of the lake table in `tableDir`.
 */
export async function forEachLakeRow(tableDir, keyColumn, columns, onRows) {
  const files = readdirSync(tableDir).filter((f) => f.endsWith('.parquet')).sort();
  const names = [keyColumn, ...columns.map((c) => c.name)];
  for (const f of files) {
    const file = await asyncBufferFromFile(path.join(tableDir, f));
    const metadata = await parquetMetadataAsync(file);
    let rowStart = 0;
    for (const rg of metadata.row_groups) {
      const rowEnd = rowStart + Number(rg.num_rows);
      const objects = await parquetReadObjects({ file, metadata, columns: names, rowStart, rowEnd, compressors, parsers: PARSERS });
      rowStart = rowEnd;
      await onRows(objects.map((o) => [String(o[keyColumn]), columns.map((c) => normalize(c.type, o[c.name]))]));
    }
  }
}

function normalize(type, v) {
  if (v === null || v === undefined) return null;
  if (type === 'int64') return String(v);
  if (type === 'timestamp') return typeof v === 'number' ? v : v instanceof Date ? v.getTime() * 1000 : Number(v);
  if (type === 'double') return Number(v);
  return v;
}

export function minimalString(type, v) {
  if (type === 'string_list') return JSON.stringify(v);
  return String(v);
}

/** Writes the feast-minimal copy under `feastPrefix`; returns the number of entities written. */
export async function writeFeastMinimal(redis, tableDir, keyColumn, columns, feastPrefix = FEAST_MINIMAL_PREFIX) {
  let n = 0;
  await forEachLakeRow(tableDir, keyColumn, columns, async (rows) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const pipe = redis.pipeline();
      for (const [id, values] of rows.slice(i, i + 1000)) {
        const fields = [];
        values.forEach((v, c) => { if (v !== null) fields.push(columns[c].name, minimalString(columns[c].type, v)); });
        // An entity whose every value is null still gets a hash, as Feast writes a row per entity.
        if (fields.length === 0) fields.push('_', '');
        pipe.hset(feastPrefix + id, ...fields);
        n++;
      }
      await pipe.exec();
    }
  });
  return { entities: n };
}

// --- feast-like encoding -------------------------------------------------------------------

function varint(n) {
  const out = [];
  let v = BigInt.asUintN(64, BigInt(n));
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

function lenDelimited(tag, bytes) {
  return Buffer.concat([Buffer.from([tag]), varint(bytes.length), bytes]);
}

/** feast.types.Value: string_val=2, int64_val=4, double_val=5, bool_val=7, unix_timestamp_val=8, string_list_val=12. */
export function feastValue(type, v) {
  if (v === null) return Buffer.alloc(0);
  switch (type) {
    case 'double': {
      const b = Buffer.alloc(9);
      b[0] = (5 << 3) | 1;
      b.writeDoubleLE(v, 1);
      return b;
    }
    case 'int64': return Buffer.concat([Buffer.from([4 << 3]), varint(v)]);
    case 'string': return lenDelimited((2 << 3) | 2, Buffer.from(v, 'utf8'));
    case 'bool': return Buffer.from([7 << 3, v ? 1 : 0]);
    // Feast's UNIX_TIMESTAMP holds epoch seconds.
    case 'timestamp': return Buffer.concat([Buffer.from([8 << 3]), varint(Math.floor(v / 1e6))]);
    case 'string_list': {
      const list = Buffer.concat(v.map((s) => lenDelimited((1 << 3) | 2, Buffer.from(s, 'utf8'))));
      return lenDelimited((12 << 3) | 2, list);
    }
    default: throw new Error(`no Feast encoding for ${type}`);
  }
}

/** MurmurHash3 x86 32-bit, as Feast's mmh3 field names use. */
export function murmur3(bytes, seed = 0) {
  let h = seed >>> 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (n & 3) {
    case 3: k ^= bytes[blocks + 2] << 16; // falls through
    case 2: k ^= bytes[blocks + 1] << 8; // falls through
    case 1:
      k ^= bytes[blocks];
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function u32le(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** Feast's serialize_entity_key (v2) for one string join key, + project name. */
export function feastKey(joinKey, id, project = FEAST_PROJECT) {
  const k = Buffer.from(joinKey, 'utf8');
  const v = lenDelimited((2 << 3) | 2, Buffer.from(id, 'utf8'));
  return Buffer.concat([u32le(2), u32le(k.length), k, u32le(2), u32le(v.length), v, Buffer.from(project, 'utf8')]);
}

/** Writes the feast-like copy (project name = `project`, so two copies do not collide). */
export async function writeFeastLike(redis, tableDir, keyColumn, columns, project = FEAST_PROJECT) {
  let n = 0;
  const fieldNames = columns.map((c) => u32le(murmur3(Buffer.from(`${FEATURE_VIEW}:${c.name}`, 'utf8'))));
  const tsField = Buffer.from(`_ts:${FEATURE_VIEW}`, 'utf8');
  // google.protobuf.Timestamp{seconds, nanos}: one event timestamp per row, as Feast stores.
  const tsValue = Buffer.concat([Buffer.from([1 << 3]), varint(1_793_000_000), Buffer.from([2 << 3]), varint(123_000_000)]);
  await forEachLakeRow(tableDir, keyColumn, columns, async (rows) => {
    for (let i = 0; i < rows.length; i += 1000) {
      const pipe = redis.pipeline();
      for (const [id, values] of rows.slice(i, i + 1000)) {
        const args = [];
        values.forEach((v, c) => args.push(fieldNames[c], feastValue(columns[c].type, v)));
        args.push(tsField, tsValue);
        pipe.hset(feastKey(keyColumn, id, project), ...args);
        n++;
      }
      await pipe.exec();
    }
  });
  return { entities: n };
}
