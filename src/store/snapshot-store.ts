/**
 * Snapshot versions of a dataset in Redis: create, publish, roll back, list, reclaim, and the
 * loader lock. Loaders, serving and the CLI all use this module; key strings come from keys.ts.
 */
import { OverlayStore } from './overlay-store.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { MaltError } from '../errors.js';
import { KeyLayout, parseVersionPointer, versionEvent } from '../keys.js';
import { callScript } from './lua-scripts.js';
import { type DataCommand, runBatch } from './command-batch.js';
import { ROW_FORMAT } from '../row-codec.js';
import { type CheckResult, type LoadStats, type SourceProvenance, type VersionManifest, parseManifest } from '../model/version-manifest.js';
import type { ColumnSpec, DatasetKind } from '../model/types.js';

export type { CheckResult, LoadStats, SourceProvenance, VersionManifest, VersionState } from '../model/version-manifest.js';

function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SnapshotStore {
  readonly keys: KeyLayout;
  private readonly redis: Redis;

  constructor(redis: Redis, keys: KeyLayout) {
    this.redis = redis;
    this.keys = keys;
  }

  async currentVersionId(dataset: string): Promise<number | null> {
    return parseVersionPointer(await this.redis.get(this.keys.current(dataset)))?.id ?? null;
  }

  /** Current pointers ("V:uid") of many datasets in one round trip (null = never published). */
  async currentPointers(datasets: readonly string[]): Promise<(string | null)[]> {
    if (datasets.length === 0) return [];
    // On a Cluster each dataset's {D} pointer may live on another node: one GET each, in parallel.
    if (this.redis.isCluster) return Promise.all(datasets.map((d) => this.redis.get(this.keys.current(d))));
    const pipeline = this.redis.pipeline();
    for (const d of datasets) pipeline.get(this.keys.current(d));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, v]) => {
      if (err) throw err;
      return v as string | null;
    });
  }

  async manifest(dataset: string, version: number): Promise<VersionManifest | null> {
    return parseManifest(version, await this.redis.hgetall(this.keys.manifest(dataset, version)));
  }

  /** Every version with keys in Redis, newest first. */
  async listVersions(dataset: string): Promise<VersionManifest[]> {
    const ids = (await this.redis.zrange(this.keys.versions(dataset), '0', '-1')).map(Number).sort((a, b) => b - a);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.manifest(dataset, id));
    const results = (await pipeline.exec()) ?? [];
    const out: VersionManifest[] = [];
    results.forEach(([err, h], i) => {
      if (err) throw err;
      const m = parseManifest(ids[i] as number, h as Record<string, string>);
      if (m) out.push(m);
    });
    return out;
  }

  /** Registers a new version in state "loading" with its source provenance and returns its id. */
  async createVersion(dataset: string, fields: { kind: DatasetKind; buckets: number; columns: readonly ColumnSpec[]; fingerprint: string; sourceFiles: number; sourceBytes: number } & SourceProvenance): Promise<number> {
    const id = await this.redis.incr(this.keys.seq(dataset));
    await this.redis
      .multi()
      .hset(this.keys.manifest(dataset, id), {
        uid: randomBytes(6).toString('hex'), state: 'loading', kind: fields.kind, row_format: fields.kind === 'features' ? ROW_FORMAT : 'json', buckets: fields.buckets, columns: JSON.stringify(fields.columns),
        fingerprint: fields.fingerprint, source_files: fields.sourceFiles, source_bytes: fields.sourceBytes,
        // A hash holds no null: '' stands for null (parseManifest reads it back as null).
        snapshot_id: fields.snapshotId, source_version: fields.sourceVersion ?? '', source_as_of: fields.sourceAsOf ?? '',
        source_format: fields.sourceFormat, checks: '[]',
        loaded_at: new Date().toISOString(),
      })
      .zadd(this.keys.versions(dataset), String(id), String(id))
      .exec();
    return id;
  }

  async dictionary(dataset: string, version: number): Promise<string[]> {
    const raw = await this.redis.get(this.keys.dictionary(dataset, version));
    return raw === null ? [] : (JSON.parse(raw) as string[]);
  }

  /**
   * Writes a loading version's manifest fields (and dictionary) only while `lockToken` still
   * holds the lock; returns false (writing nothing) when it does not.
   */
  async updateLoading(dataset: string, version: number, lockToken: string, fields: Record<string, string | number>, dictionary?: readonly string[]): Promise<boolean> {
    const args: (string | number)[] = [lockToken, dictionary && dictionary.length > 0 ? JSON.stringify(dictionary) : ''];
    for (const [k, v] of Object.entries(fields)) args.push(k, v);
    const res = await callScript(this.redis, 'maltUpdateManifest',
      [this.keys.lock(dataset), this.keys.manifest(dataset, version), this.keys.dictionary(dataset, version)], args);
    return res === 1;
  }

  async recordStats(dataset: string, version: number, lockToken: string, stats: LoadStats, dictionary: readonly string[]): Promise<void> {
    const ok = await this.updateLoading(dataset, version, lockToken, {
      rows: stats.rows, rejected: stats.rejected, rejected_reasons: JSON.stringify(stats.rejectedReasons),
      value_rejects: JSON.stringify(stats.valueRejects ?? {}),
      duplicates: stats.duplicates, duration_ms: Math.round(stats.durationMs), checks: JSON.stringify(stats.checks ?? []),
    }, dictionary);
    if (!ok) throw new MaltError('LOAD_IN_PROGRESS', `lost the load lock of ${dataset} (another loader took over); nothing was published`);
  }

  /** Marks a loading version failed with `CODE: message`, and the gates it failed when given. */
  async markFailed(dataset: string, version: number, lockToken: string, error: string, checks?: readonly CheckResult[]): Promise<void> {
    await this.updateLoading(dataset, version, lockToken, { state: 'failed', error, ...(checks ? { checks: JSON.stringify(checks) } : {}) });
  }

  /** Reads the current pointer and the manifest key of the version it names (or `fallback`). */
  private async pointerAndManifest(dataset: string, fallback: string): Promise<{ pointer: string; manifestKey: string; id: number | null }> {
    const pointer = (await this.redis.get(this.keys.current(dataset))) ?? '';
    const parsed = parseVersionPointer(pointer || null);
    return { pointer, id: parsed?.id ?? null, manifestKey: parsed ? this.keys.manifest(dataset, parsed.id) : fallback };
  }

  /** Flips the current pointer to `version` if the caller still holds the lock. */
  async publish(dataset: string, version: number, lockToken: string): Promise<void> {
    const manifestKey = this.keys.manifest(dataset, version);
    for (let attempt = 0; attempt < 10; attempt++) {
      const prev = await this.pointerAndManifest(dataset, manifestKey);
      const res = await callScript(this.redis, 'maltPublish',
        [this.keys.current(dataset), manifestKey, this.keys.lock(dataset), prev.manifestKey],
        [version, lockToken, new Date().toISOString(), this.keys.events, versionEvent(dataset, version), prev.pointer]);
      if (res === 1) return;
      if (res === -1) throw new MaltError('LOAD_IN_PROGRESS', `lost the load lock of ${dataset} before publishing version ${version}; nothing was published`);
      if (res === -2) throw new MaltError('INTERNAL', `version ${version} of ${dataset} was not in state loading; nothing was published`);
    }
    throw new MaltError('INTERNAL', `the current version of ${dataset} kept changing during publish; nothing was published`);
  }

  /** Serves `to` (default: the newest published version older than the current one). */
  async rollback(dataset: string, to?: number): Promise<{ from: number | null; to: number }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const prev = await this.pointerAndManifest(dataset, '');
      const current = prev.id;
      let target = to;
      if (target === undefined) {
        const older = (await this.listVersions(dataset)).filter((v) => v.state === 'published' && (current === null || v.id < current));
        if (older.length === 0) throw new MaltError('NO_PREVIOUS_VERSION', `${dataset} has no published version older than ${current ?? 'none'} to roll back to`);
        target = (older[0] as VersionManifest).id;
      }
      const targetKey = this.keys.manifest(dataset, target);
      const res = await callScript(this.redis, 'maltRollback', [this.keys.current(dataset), targetKey, prev.manifestKey || targetKey],
        [target, this.keys.events, versionEvent(dataset, target), new Date().toISOString(), prev.pointer]);
      if (res === 1) return { from: current, to: target };
      if (res === -1) throw new MaltError('VERSION_NOT_FOUND', `${dataset} has no published version ${target}`);
    }
    throw new MaltError('INTERNAL', `the current version of ${dataset} kept changing during rollback`);
  }

  /**
   * Deletes versions nobody can be served:
   * - published versions beyond the newest `keepVersions`, once retired for at least `graceMs`
   *   (replicas that have not yet seen the last flip may still read them);
   * - with `includeUnfinished` (only while holding the lock, before a load): versions a killed
   *   load left `loading` or `reclaiming`, whole. Failed (refused) versions only lose their data
   *   keys: their manifest stays (with buckets 0), so `malt versions` and the API still show why
   *   they were refused, for the newest `keepVersions` − 1 of them (the load about to run may
   *   add one more);
   * - without it (after a publish, still holding the lock): failed versions older than the
   *   newest published one, so a refusal stays visible until the next successful load.
   * The current version is never deleted (checked atomically by mark-reclaiming.lua). Bucket
   * keys are deleted by number from the manifest: no SCAN.
   */
  async reclaim(dataset: string, keepVersions: number, opts: { includeUnfinished: boolean; graceMs: number }): Promise<number[]> {
    const current = await this.currentVersionId(dataset);
    const versions = await this.listVersions(dataset);
    const published = versions.filter((v) => v.state === 'published');
    const keep = new Set(published.slice(0, keepVersions).map((v) => v.id));
    if (current !== null) keep.add(current);
    const failed = versions.filter((v) => v.state === 'failed');
    const newestPublished = published[0]?.id ?? 0;
    // Before a load, room is left for the version it is about to create: at most keepVersions failed ones are listed.
    const keptFailed = new Set(failed.filter((v) => opts.includeUnfinished || v.id > newestPublished).slice(0, keepVersions - 1).map((v) => v.id));
    const now = Date.now();
    const graceOver = (v: VersionManifest): boolean => v.retiredAt === null || now - Date.parse(v.retiredAt) >= opts.graceMs;
    const doomed = versions.filter((v) => {
      if (keep.has(v.id) || keptFailed.has(v.id)) return false;
      if (v.state === 'published') return graceOver(v);
      return v.state === 'failed' || opts.includeUnfinished;
    });
    const reclaimed: number[] = [];
    for (const v of doomed) if (await this.deleteVersion(dataset, v)) reclaimed.push(v.id);
    if (opts.includeUnfinished) for (const v of failed) if (keptFailed.has(v.id) && v.buckets > 0) await this.deleteFailedData(dataset, v);
    // Ids listed without a manifest (e.g. a crash between the two writes of createVersion) are dropped.
    const listed = await this.redis.zrange(this.keys.versions(dataset), '0', '-1');
    const known = new Set(versions.map((v) => String(v.id)));
    const orphans = listed.filter((id) => !known.has(id));
    if (orphans.length > 0) await this.redis.zrem(this.keys.versions(dataset), ...orphans);
    // Update overlay entries older than every kept version can no longer be served (docs/updates.md).
    const gone = new Set(reclaimed);
    const asOfs = published.filter((v) => !gone.has(v.id)).map((v) => Date.parse(v.sourceAsOf ?? v.loadedAt)).filter((t) => Number.isFinite(t));
    if (asOfs.length > 0) await new OverlayStore(this.redis, this.keys).reclaim(dataset, BigInt(Math.min(...asOfs)) * 1000n);
    return reclaimed;
  }

  /** Deletes a failed version's data keys; its manifest stays, with buckets 0 (nothing left to delete). */
  private async deleteFailedData(dataset: string, v: VersionManifest): Promise<void> {
    await this.unlinkBuckets(dataset, v);
    await this.redis.multi().unlink(this.keys.dictionary(dataset, v.id)).hset(this.keys.manifest(dataset, v.id), 'buckets', 0).exec();
  }

  private async unlinkBuckets(dataset: string, v: VersionManifest): Promise<void> {
    // 500 UNLINKs at a time, one batch after another: a large version never floods Redis.
    const CHUNK = 500;
    for (let start = 0; start < v.buckets; start += CHUNK) {
      const end = Math.min(v.buckets, start + CHUNK);
      const commands: DataCommand[] = [];
      for (let b = start; b < end; b++) commands.push({ op: 'unlink', key: this.keys.bucket(dataset, v.id, b) });
      await runBatch(this.redis, commands);
    }
  }

  private async deleteVersion(dataset: string, v: VersionManifest): Promise<boolean> {
    const manifestKey = this.keys.manifest(dataset, v.id);
    const marked = await callScript(this.redis, 'maltMarkReclaiming', [this.keys.current(dataset), manifestKey], [v.id]);
    if (marked !== 1) return false;
    await this.unlinkBuckets(dataset, v);
    await this.redis.multi().unlink(this.keys.dictionary(dataset, v.id)).unlink(manifestKey).zrem(this.keys.versions(dataset), String(v.id)).exec();
    return true;
  }

  async acquireLock(dataset: string, ttlMs: number): Promise<string> {
    // The token records who holds the lock (host and pid), for the message others get.
    const token = `${hostname()}|${process.pid}|${randomBytes(12).toString('hex')}`;
    const ok = await this.redis.set(this.keys.lock(dataset), token, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') {
      const [holder, ttl] = await Promise.all([this.redis.get(this.keys.lock(dataset)), this.redis.pttl(this.keys.lock(dataset))]);
      const parts = (holder ?? '').split('|');
      // A loader on this host whose process is gone (killed): take its lock over at once.
      if (holder !== null && parts.length === 3 && parts[0] === hostname() && !processAlive(Number(parts[1]))) {
        if ((await callScript(this.redis, 'maltTakeOverLock', [this.keys.lock(dataset)], [holder, token, ttlMs])) === 1) return token;
      }
      const who = parts.length === 3 ? ` (pid ${parts[1]} on host ${parts[0]})` : '';
      const expires = ttl > 0 ? `its lock expires in ${(ttl / 1000).toFixed(1)} s unless renewed` : 'its lock has no expiry';
      throw new MaltError('LOAD_IN_PROGRESS', `another loader${who} is loading ${dataset}; ${expires}`);
    }
    return token;
  }

  async renewLock(dataset: string, token: string, ttlMs: number): Promise<boolean> {
    return (await callScript(this.redis, 'maltRenewLock', [this.keys.lock(dataset)], [token, ttlMs])) === 1;
  }

  async releaseLock(dataset: string, token: string): Promise<void> {
    await callScript(this.redis, 'maltReleaseLock', [this.keys.lock(dataset)], [token]);
  }
}
