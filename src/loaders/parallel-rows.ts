/**
 * A features load on several cores (`loader.workers`): worker threads (row-group-worker.ts)
 * decode and encode row groups; this thread hands out the row groups, keeps the string
 * dictionary (merging the workers' new strings in source order, row-group-task.ts), and passes
 * each row group's framed pairs to the snapshot writer in source order. So Redis receives, per
 * bucket, the same fields in the same order with the same bytes as a one-thread load, and the
 * version's dictionary, counters and stats are the same too: the keyspace is byte-identical
 * (test/loader-workers.test.ts).
 *
 * Memory is bounded whatever the table's size: at most TASKS_PER_WORKER row groups per worker
 * are handed out and not yet written (decoded, encoded or waiting their turn), and the writer
 * keeps its own bound on batches in flight. A worker's error (an unreadable row group, a corrupt
 * deletion vector) fails the load with that error's code and message; a stop (lock lost,
 * SIGTERM/Ctrl+C) surfaces from the writer at its next batch; either way every worker is
 * terminated before this returns.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DatasetConfig, MaltConfig } from '../config.js';
import { MaltError, type ErrorCode } from '../errors.js';
import { DICTIONARY_MAX_ENTRIES, type StringDictionaryBuilder } from '../row-codec.js';
import type { SnapshotWriter } from '../store/snapshot-writer.js';
import type { SourceSnapshot } from '../sources/source.js';
import type { ProgressSink } from './load-progress.js';
import type { RowCounters } from './row-group-writer.js';
import type { LoadPlan } from './source-schema.js';
import { type FromWorker, type RowGroupTask, type WorkerSetup, toWireFields } from './row-group-task.js';

/** Row groups handed to one worker and not yet written: one being worked on, one queued. */
const TASKS_PER_WORKER = 2;
/** With `workers: 0` (auto), tables smaller than this load on the main thread (starting workers costs ~0.2 CPU-s each). */
export const AUTO_MIN_ROWS = 100_000;
/** Most workers `auto` starts. */
const AUTO_MAX_WORKERS = 4;

function readCpuMax(): string | null {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return null;
  }
}

/**
 * Whole CPUs this process can use: the cores it may run on (availableParallelism), capped by a
 * cgroup v2 CPU quota (`cpu.max`, "<quota> <period>" or "max <period>": a container's CPU limit,
 * which Node 20 does not count), at least 1.
 */
export function usableCpus(cpuMax: string | null = readCpuMax()): number {
  const cores = availableParallelism();
  const m = /^(\d+)\s+(\d+)/.exec(cpuMax ?? '');
  return m ? Math.max(1, Math.min(cores, Math.floor(Number(m[1]) / Number(m[2])))) : cores;
}

/**
 * How many worker threads a load uses: 0 = load on the main thread. `configured` 0 is auto:
 * min(usable CPUs, 4) for a features table of at least AUTO_MIN_ROWS rows; never more
 * workers than row groups, and none for a single row group or a segments dataset.
 */
export function loadWorkers(configured: number, plan: LoadPlan, totalRows: number): number {
  if (plan.segmentShape !== null || configured === 1) return 0;
  const rowGroups = plan.files.reduce((n, f) => n + f.file.metadata.row_groups.length, 0);
  const wanted = configured === 0 ? (totalRows >= AUTO_MIN_ROWS ? Math.min(usableCpus(), AUTO_MAX_WORKERS) : 0) : configured;
  const n = Math.min(wanted, rowGroups);
  return n >= 2 ? n : 0;
}

/** The worker's script: the built one next to this module, or dist/'s when this runs from src/ (the test runner). */
function workerScript(): URL {
  return import.meta.url.endsWith('.ts') ? new URL('../../dist/loaders/row-group-worker.js', import.meta.url) : new URL('./row-group-worker.js', import.meta.url);
}

interface Deferred {
  promise: Promise<Extract<FromWorker, { type: 'done' }>>;
  resolve: (r: Extract<FromWorker, { type: 'done' }>) => void;
  reject: (e: Error) => void;
}

function deferred(): Deferred {
  let resolve!: Deferred['resolve'];
  let reject!: Deferred['reject'];
  const promise = new Promise<Extract<FromWorker, { type: 'done' }>>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined); // awaited in order; an earlier failure must not leave it unhandled
  return { promise, resolve, reject };
}

export interface ParallelRowsInput {
  readonly config: MaltConfig;
  readonly dataset: DatasetConfig;
  readonly snapshot: SourceSnapshot;
  readonly plan: LoadPlan;
  readonly writer: SnapshotWriter;
  readonly buckets: number;
  readonly workers: number;
  readonly counters: RowCounters;
  readonly dictionary: StringDictionaryBuilder;
  readonly progress: ProgressSink;
}

/** One task per row group, in source order (files in snapshot order, row groups in file order). */
function tasksOf(plan: LoadPlan): RowGroupTask[] {
  const tasks: RowGroupTask[] = [];
  for (const p of plan.files) {
    const fields = toWireFields(p.fields);
    for (let g = 0; g < p.file.metadata.row_groups.length; g++) {
      tasks.push({ type: 'task', task: tasks.length, dataFile: p.dataFile, parquetColumns: p.parquetColumns, fields, rowGroup: g });
    }
  }
  return tasks;
}

/** Writes every row of `plan` through `workers` worker threads (see the header); counts into `counters`. */
export async function writeRowsInWorkers(input: ParallelRowsInput): Promise<void> {
  const { plan, dictionary, writer } = input;
  const tasks = tasksOf(plan);
  const setup: WorkerSetup = {
    key: input.dataset.key, columns: plan.columns, buckets: input.buckets,
    scheme: input.snapshot.store.scheme, uri: input.snapshot.uri, s3: input.config.s3,
  };
  const results: Deferred[] = tasks.map(() => deferred());
  let failure: Error | null = null;
  const fail = (e: Error): void => {
    failure ??= e;
    for (const r of results) r.reject(failure);
  };
  const workers = Array.from({ length: input.workers }, () => new Worker(workerScript(), { workerData: setup }));
  const outstanding = new Array<number>(workers.length).fill(0);
  const exchange = new DictionaryExchange(dictionary, workers);
  workers.forEach((w, i) => {
    w.on('message', (msg: FromWorker) => {
      if (msg.type === 'strings') exchange.receive(msg.task, msg.strings);
      else if (msg.type === 'done') {
        outstanding[i]!--;
        results[msg.task]!.resolve(msg);
      } else {
        fail(new MaltError(msg.code as ErrorCode, msg.message));
      }
    });
    w.on('error', (err) => fail(new MaltError('INTERNAL', `loader worker failed: ${err.message}`)));
    w.on('exit', (code) => fail(new MaltError('INTERNAL', `loader worker exited (code ${code}) before the load finished`)));
  });
  let dispatched = 0;
  const dispatch = (written: number): void => {
    while (dispatched < tasks.length && dispatched - written < workers.length * TASKS_PER_WORKER) {
      let w = 0;
      for (let i = 1; i < workers.length; i++) if (outstanding[i]! < outstanding[w]!) w = i;
      exchange.dispatched(dispatched, w);
      outstanding[w]!++;
      workers[w]!.postMessage(tasks[dispatched]);
      dispatched++;
    }
  };
  try {
    for (let t = 0; t < tasks.length; t++) {
      dispatch(t);
      const r = await results[t]!.promise;
      await addTask(writer, r);
      mergeCounters(input.counters, r.counters);
      input.progress.update(input.counters.rowsRead);
    }
  } finally {
    for (const w of workers) w.removeAllListeners('exit');
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (failure) throw failure;
}

/**
 * The dictionary side of row-group-task.ts's protocol: merges each task's new-string list into
 * the load's dictionary strictly in task order, and answers the task's worker with the entries
 * it has not been sent yet.
 */
class DictionaryExchange {
  /** Which worker each dispatched task went to. */
  private readonly owner: number[] = [];
  /** Dictionary entries each worker has been sent. */
  private readonly known: number[];
  /** New-string lists waiting for their turn, by task; tasks below `merged` are merged. */
  private readonly lists = new Map<number, readonly string[]>();
  private merged = 0;

  constructor(private readonly dictionary: StringDictionaryBuilder, private readonly workers: readonly Worker[]) {
    this.known = new Array<number>(workers.length).fill(0);
  }

  private get full(): boolean {
    return this.dictionary.entries.length >= DICTIONARY_MAX_ENTRIES;
  }

  /** Task `task` went to worker `worker` (tasks are dispatched in order). */
  dispatched(task: number, worker: number): void {
    this.owner[task] = worker;
    this.merge();
  }

  receive(task: number, strings: readonly string[]): void {
    // Merging went past this task because the dictionary is full: nothing left to merge.
    if (task < this.merged) return this.answer(task);
    this.lists.set(task, strings);
    this.merge();
  }

  private answer(task: number): void {
    const w = this.owner[task] as number;
    const entries = this.dictionary.entries.slice(this.known[w]);
    this.known[w] = this.dictionary.entries.length;
    this.workers[w]!.postMessage({ type: 'dict', task, entries, full: this.full });
  }

  /** In task order: a task's strings get their ids only after every earlier task's did. */
  private merge(): void {
    while (this.merged < this.owner.length) {
      const list = this.lists.get(this.merged);
      if (list === undefined) {
        // A worker that knows the dictionary is full sends no list (and needs no answer).
        if (!this.full) return;
      } else {
        this.lists.delete(this.merged);
        if (!this.full) for (const s of list) this.dictionary.id(s);
        this.answer(this.merged);
      }
      this.merged++;
    }
  }
}

/** Hands one row group's framed pairs to the writer, bucket by bucket, sending batches as they fill. */
async function addTask(writer: SnapshotWriter, r: Extract<FromWorker, { type: 'done' }>): Promise<void> {
  const bytes = new Uint8Array(r.bytes);
  const index = new Int32Array(r.index);
  let pos = 0;
  for (let i = 0; i < index.length; i += 3) {
    const len = index[i + 1] as number;
    if (writer.addFramedPairs(index[i] as number, bytes, pos, pos + len, index[i + 2] as number)) await writer.flush();
    pos += len;
  }
}

function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

/** Adds one task's counters; merged in task order, their keys come out in a one-thread load's order. */
function mergeCounters(into: RowCounters, from: RowCounters): void {
  into.rowsRead += from.rowsRead;
  into.rejected += from.rejected;
  into.wideRows += from.wideRows;
  addCounts(into.reasons, from.reasons);
  addCounts(into.nulls, from.nulls);
  for (const [col, reasons] of Object.entries(from.valueRejects)) addCounts((into.valueRejects[col] ??= {}), reasons);
}
