/**
 * A loader worker thread (started by parallel-rows.ts; the messages are in row-group-task.ts):
 * decodes the row groups it is given with hyparquet, projects them as the one-thread load does
 * (file-projection.ts), encodes every row with the same code (row-group-writer.ts
 * writeFeatureRows) into per-bucket HSET pairs, and transfers the bytes to the main thread,
 * which only frames the commands and writes them. Tasks run one at a time, in the order sent.
 * Any error is answered as the task's error (its MaltError code and message); the main thread
 * fails the load with it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DICTIONARY_MAX_STRING_BYTES, RowBuilder, type StringIds } from '../row-codec.js';
import { MaltError } from '../errors.js';
import { BucketPairs } from '../store/bucket-pairs.js';
import type { ObjectStore } from '../sources/object-store.js';
import type { DeletedRows } from '../sources/delta/deletion-vector.js';
import { readDeletionVector } from '../sources/delta/deletion-vector.js';
import { normalizeTableUri } from '../sources/delta/table-path.js';
import { type FileProjection, projectRows } from './file-projection.js';
import { type OpenParquetFile, openParquetFile } from './parquet-reader.js';
import { newCounters, writeFeatureRows } from './row-group-writer.js';
import { type ConvertNotes, ValueReject, convertValue, keyIdOf } from './value-converter.js';
import { type DictionaryUpdate, type FromWorker, type RowGroupTask, type ToWorker, type WorkerSetup, fromWireFields } from './row-group-task.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;

/** The load's dictionary as far as this worker has been told (a prefix of the main thread's). */
class KnownDictionary implements StringIds {
  readonly ids = new Map<string, number>();
  full = false;

  id(s: string): number | undefined {
    return this.ids.get(s);
  }

  learn(update: DictionaryUpdate): void {
    for (const s of update.entries) this.ids.set(s, this.ids.size);
    this.full = update.full;
  }
}

const dictionary = new KnownDictionary();
const builder = new RowBuilder(dictionary);
const storePromise: Promise<ObjectStore> = setup.scheme === 'file'
  // Local files need no S3 client (whose import alone costs ~0.15 CPU-s per worker).
  ? import('../sources/local-store.js').then((m) => new m.LocalObjectStore())
  : import('../sources/object-store-for.js').then((m) => m.objectStoreFor(setup.uri, setup.s3));

/** The file of the last task, its deleted rows and projection (tasks come file after file). */
let current: { location: string; file: OpenParquetFile; deleted: DeletedRows | null } | null = null;

async function fileOf(task: RowGroupTask): Promise<NonNullable<typeof current>> {
  if (current?.location === task.dataFile.location) return current;
  const store = await storePromise;
  const file = await openParquetFile(store, task.dataFile.location, task.dataFile.size);
  const dv = task.dataFile.deletionVector;
  const deleted = dv === null ? null : await readDeletionVector(store, normalizeTableUri(setup.uri), dv, setup.uri);
  current = { location: task.dataFile.location, file, deleted };
  return current;
}

/**
 * The short strings the encoder will look up in these rows that this worker has no id for,
 * first-seen, in the order writeFeatureRows meets them (row by row, column by column; rows with
 * a rejected key are never encoded), and with the values it would convert the same way.
 */
function unknownStrings(rows: readonly Record<string, unknown>[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const note = (s: string): void => {
    if (s.length <= DICTIONARY_MAX_STRING_BYTES && !dictionary.ids.has(s) && !seen.has(s)) {
      seen.add(s);
      out.push(s);
    }
  };
  const cols = setup.columns.filter((c) => c.type === 'string' || c.type === 'string_list');
  const notes: ConvertNotes = { nullElements: 0 };
  for (const row of rows) {
    if (keyIdOf(row[setup.key]) instanceof ValueReject) continue;
    for (const c of cols) {
      let v = row[c.name];
      if (c.type === 'string' ? typeof v !== 'string' : !(Array.isArray(v) && v.every((e) => typeof e === 'string'))) v = convertValue(c.type, v, notes);
      if (typeof v === 'string') note(v);
      else if (Array.isArray(v)) for (const e of v as string[]) note(e);
    }
  }
  return out;
}

/** Dictionary answers awaited, by task. */
const waiting = new Map<number, (u: DictionaryUpdate) => void>();

async function run(task: RowGroupTask): Promise<void> {
  const f = await fileOf(task);
  const projection: FileProjection = { file: f.file, dataFile: task.dataFile, parquetColumns: task.parquetColumns, fields: fromWireFields(task.fields) };
  const { firstRow, rows: read } = await f.file.readRowGroup(task.rowGroup, task.parquetColumns);
  const rows = projectRows(projection, f.deleted, firstRow, read);
  if (!dictionary.full) {
    const answer = new Promise<DictionaryUpdate>((resolve) => waiting.set(task.task, resolve));
    port.postMessage({ type: 'strings', task: task.task, strings: unknownStrings(rows) } satisfies FromWorker);
    dictionary.learn(await answer);
  }
  const sink = new BucketPairs(setup.buckets);
  const counters = newCounters();
  await writeFeatureRows(setup.key, setup.columns, rows, sink, counters, builder);
  const { bytes, index } = sink.take();
  port.postMessage({ type: 'done', task: task.task, bytes, index, counters } satisfies FromWorker, [bytes, index]);
}

let queue: Promise<void> = Promise.resolve();

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'dict') {
    const resolve = waiting.get(msg.task);
    waiting.delete(msg.task);
    resolve?.(msg);
    return;
  }
  queue = queue.then(() => run(msg)).catch((err: unknown) => {
    const e = err instanceof MaltError ? err : new MaltError('INTERNAL', `loader worker: ${(err as Error)?.stack ?? String(err)}`);
    port.postMessage({ type: 'error', task: msg.task, code: e.code, message: e.message } satisfies FromWorker);
  });
});
