/**
 * Knows which version of each dataset this replica serves. It learns of a publish or rollback
 * from the P:events pub/sub channel at once, and polls the current pointers every
 * serving.version_poll_ms (default 500 ms) in case a message was missed, so every replica serves
 * a new version within about a second of the flip, without a restart.
 */
import type { Redis } from 'ioredis';
import { parseDefault, type TypedValue } from '../column-types.js';
import type { DatasetConfig } from '../config.js';
import { KeyLayout, parseEntityEvent, parseVersionEvent, parseVersionPointer } from '../keys.js';
import { parseTimestampMicros } from '../column-types.js';
import { RowDecoder } from '../row-codec.js';
import type { ColumnSpec } from '../model/types.js';
import { SnapshotStore, type VersionManifest } from '../store/snapshot-store.js';
import { toMaltError } from '../errors.js';
import { withDeadline } from './deadline.js';
import type { ReadinessMonitor } from './readiness.js';
import { type Logger, silentLogger } from '../telemetry/logger.js';
import { StaleTimers, staleAtMs, staleView } from './degraded-staleness.js';

/** Everything the read path needs about the served version of one dataset. */
export interface ServedVersion {
  readonly config: DatasetConfig;
  readonly id: number;
  /** The current pointer value this view was built from ("V:uid"). */
  readonly pointer: string;
  readonly versionString: string;
  readonly manifest: VersionManifest;
  readonly columns: readonly ColumnSpec[];
  /** Typed default per column (aligned with columns), null where none is configured. */
  readonly defaults: readonly (TypedValue | null)[];
  readonly buckets: number;
  readonly bucketPrefix: string;
  /** Decodes this version's rows (holds its string dictionary); null for segments. */
  readonly decoder: RowDecoder | null;
  /** Cache key prefix: dataset NUL pointer ("V:uid") NUL. */
  readonly cachePrefix: string;
  /** Prefix of the dataset's update overlay keys (KeyLayout.overlayPrefix); null when updates are off. */
  readonly overlayPrefix: string | null;
  /** The version's as-of time in µs: updates with a later event time apply on top of it. */
  readonly asOfMicros: bigint;
  readonly since: string;
  /** When the version's as-of time passes the dataset's max_age (ms; Infinity: never). */
  readonly staleAtMs: number;
  /** Past staleAtMs: values are served STALE (docs/degraded-modes.md). */
  readonly stale: boolean;
}

export class VersionTracker {
  private readonly served = new Map<string, ServedVersion>();
  private readonly staleTimers = new StaleTimers();
  private readonly store: SnapshotStore;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | null = null;
  /** A refresh was asked for while one ran (it may have read the pointers before the flip). */
  private again = false;
  private lastError: string | null = null;
  /** Bumped whenever a served version changes, so readers can memoise lookups of it. */
  generation = 0;
  /** Told of every poll's outcome (store up, unreachable or stalled) and of served-version changes. */
  monitor: ReadinessMonitor | null = null;
  /** A pointer read slower than this marks the store stalled. */
  stallMs = 1000;
  /** Told of every entity-update message (per-entity cache invalidation), and of resubscribes (ids null: anything may have changed). */
  private readonly entityListeners: ((dataset: string, ids: readonly string[] | null) => void)[] = [];

  constructor(
    redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: KeyLayout,
    private readonly datasets: readonly DatasetConfig[],
    private readonly pollMs: number,
    private readonly logger: Logger = silentLogger,
  ) {
    this.store = new SnapshotStore(redis, keys);
  }

  async start(): Promise<void> {
    await this.refreshAll();
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.keys.events) return;
      if (message.charCodeAt(0) === 117 /* u */) {
        const upd = parseEntityEvent(message);
        if (upd) for (const l of this.entityListeners) l(upd.dataset, upd.ids);
        return;
      }
      const ev = parseVersionEvent(message);
      if (ev && this.datasets.some((d) => d.name === ev.dataset)) void this.refreshAll().catch(() => undefined);
    });
    await this.subscriber.subscribe(this.keys.events);
    // Messages sent while the subscription was down are lost: forget cached results of every
    // dataset that takes updates when it comes back. ioredis emits 'ready' before it sends its
    // own resubscribe, and messages published until that SUBSCRIBE is answered are lost too: so
    // forget once our SUBSCRIBE (queued behind ioredis's) is answered, not at 'ready'
    // (test/pubsub-reconnect.test.ts).
    let lost = false;
    this.subscriber.on('close', () => { lost = true; });
    this.subscriber.on('ready', () => {
      if (!lost) return;
      lost = false;
      this.subscriber.subscribe(this.keys.events).then(() => {
        for (const d of this.datasets) if (d.updates.enabled) for (const l of this.entityListeners) l(d.name, null);
      }, () => { lost = true; });
    });
    this.timer = setInterval(() => void this.refreshAll().catch(() => undefined), this.pollMs);
    this.timer.unref();
  }

  /** Registers a listener for entity-update messages (see entityListeners). */
  onEntityUpdates(listener: (dataset: string, ids: readonly string[] | null) => void): void {
    this.entityListeners.push(listener);
  }

  get(dataset: string): ServedVersion | undefined {
    return this.served.get(dataset);
  }

  /**
   * Re-reads every current pointer (one round trip) and loads manifests of changed ones. A call
   * made while a refresh runs is answered by one more refresh right after it.
   */
  refreshAll(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        await this.doRefresh();
      } while (this.again);
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const names = this.datasets.map((d) => d.name);
    let pointers: (string | null)[];
    try {
      pointers = await withDeadline(this.store.currentPointers(names), this.stallMs);
    } catch (err) {
      const e = toMaltError(err);
      this.monitor?.setStore(/did not answer within/.test(e.message) ? 'stalled' : 'unreachable', e.message);
      throw e;
    }
    for (let i = 0; i < names.length; i++) {
      const config = this.datasets[i] as DatasetConfig;
      try {
        await this.refreshOne(config, pointers[i] ?? null);
      } catch (err) {
        // One dataset's trouble does not stop the others; the next poll retries it.
        const msg = `version tracker: cannot refresh ${config.name}: ${(err as Error).message}`;
        if (msg !== this.lastError) this.logger.warn(msg);
        this.lastError = msg;
      }
    }
    this.monitor?.setStore('up');
  }

  private async refreshOne(config: DatasetConfig, pointer: string | null): Promise<void> {
    const parsed = parseVersionPointer(pointer);
    if (pointer === null || parsed === null) {
      this.staleTimers.clear(config.name);
      if (this.served.delete(config.name)) this.generation++;
      return;
    }
    if (this.served.get(config.name)?.pointer === pointer) return;
    const manifest = await this.store.manifest(config.name, parsed.id);
    if (!manifest || manifest.uid !== parsed.uid || manifest.state !== 'published') {
      // Pointer and manifest disagree (reclaimed or reset under us): stop serving stale data.
      this.logger.warn(`version tracker: ${config.name} points at version ${parsed.id}, which is not a published version here; not serving it`);
      this.staleTimers.clear(config.name);
      if (this.served.delete(config.name)) this.generation++;
      return;
    }
    const dictionary = config.kind === 'features' ? await this.store.dictionary(config.name, parsed.id) : [];
    const view = this.view(config, manifest, pointer, dictionary);
    this.served.set(config.name, view);
    this.generation++;
    this.watchStaleness(view);
    // Updates expire updates.retention after their event time: older than that, this version may
    // miss updates newer than it (docs/updates.md).
    if (config.updates.enabled && Number(view.asOfMicros / 1000n) < Date.now() - config.updates.retentionMs) {
      this.logger.warn(`${config.name} version ${parsed.id} is older than updates.retention; updates newer than it may have expired`);
    }
    this.logger.info(`serving ${config.name} version ${parsed.id}`);
  }

  /** Swaps in the stale view of `view` when its as-of time passes max_age (degraded-staleness.ts). */
  private watchStaleness(view: ServedVersion): void {
    const name = view.config.name;
    const report = (): void => this.logger.warn(`${name} version ${view.id} is older than max_age: its values are served with status STALE (as-of ${new Date(Number(view.asOfMicros / 1000n)).toISOString()})`);
    if (view.stale) {
      this.staleTimers.clear(name);
      report();
      return;
    }
    this.staleTimers.schedule(name, view.staleAtMs, () => {
      if (this.served.get(name) !== view) return;
      this.served.set(name, staleView(view));
      this.generation++;
      report();
    });
  }

  private view(config: DatasetConfig, manifest: VersionManifest, pointer: string, dictionary: readonly string[]): ServedVersion {
    const columns = config.kind === 'segments' ? [{ name: 'segments', type: 'string_list' as const }] : manifest.columns;
    const defaults = columns.map((c) => {
      const raw = config.defaults[c.name];
      if (raw === undefined) return null;
      const parsed = parseDefault(c.type, raw);
      return 'value' in parsed ? parsed.value : null;
    });
    const asOfMicros = parseTimestampMicros(manifest.sourceAsOf ?? manifest.loadedAt) ?? 0n;
    const staleAt = staleAtMs(asOfMicros, config.maxAgeMs);
    const fresh: ServedVersion = {
      config, id: manifest.id, pointer, versionString: String(manifest.id), manifest, columns, defaults,
      buckets: manifest.buckets,
      decoder: config.kind === 'features' ? new RowDecoder(manifest.columns, dictionary) : null,
      bucketPrefix: this.keys.bucketPrefix(config.name, manifest.id),
      cachePrefix: `${config.name}\u0000${pointer}\u0000`,
      overlayPrefix: config.updates.enabled ? this.keys.overlayPrefix(config.name) : null,
      asOfMicros,
      since: manifest.currentSince ?? manifest.publishedAt ?? manifest.loadedAt,
      staleAtMs: staleAt, stale: false,
    };
    return Date.now() >= staleAt ? staleView(fresh) : fresh;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.staleTimers.stop();
    await this.subscriber.unsubscribe().catch(() => undefined);
  }
}
