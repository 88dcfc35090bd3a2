/**
 * Snapshot versions of a dataset in Redis: create, publish, roll back, list, reclaim, and the
 * loader lock. Loaders, serving and the CLI all use this module; key strings come from keys.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ColumnType } from '../column-types.js';
import type { DatasetKind } from '../config.js';
import { MaltError } from '../errors.js';
import { KeyLayout, parseVersionPointer, versionEvent } from '../keys.js';
import { callScript } from './lua-scripts.js';
import { ROW_FORMAT } from '../row-codec.js';

export type VersionState = 'loading' | 'published' | 'failed' | 'reclaiming';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
}

export interface VersionManifest {
  readonly id: number;
  /** Random per version: distinguishes versions with the same id across a Redis reset. */
  readonly uid: string;
  readonly state: VersionState;
  readonly kind: DatasetKind;
  readonly buckets: number;
  /** Column order of the encoded rows (features); [] for segments. */
  readonly columns: readonly ColumnSpec[];
  readonly fingerprint: string;
  readonly sourceFiles: number;
  readonly sourceBytes: number;
  readonly rows: number;
  readonly rejected: number;
  readonly rejectedReasons: Readonly<Record<string, number>>;
  readonly duplicates: number;
  readonly loadedAt: string;
  readonly publishedAt: string | null;
  /** When this version last became the served one (publish or rollback). */
  readonly currentSince: string | null;
  readonly durationMs: number;
  readonly error: string | null;
}

export interface LoadStats {
  rows: number;
  rejected: number;
  rejectedReasons: Record<string, number>;
  duplicates: number;
  durationMs: number;
}

function parseManifest(id: number, h: Record<string, string>): VersionManifest | null {
  if (!h['state']) return null;
  return {
    id,
    uid: h['uid'] ?? '',
    state: h['state'] as VersionState,
    kind: (h['kind'] as DatasetKind) ?? 'features',
    buckets: Number(h['buckets'] ?? 1),
    columns: JSON.parse(h['columns'] ?? '[]') as ColumnSpec[],
    fingerprint: h['fingerprint'] ?? '',
    sourceFiles: Number(h['source_files'] ?? 0),
    sourceBytes: Number(h['source_bytes'] ?? 0),
    rows: Number(h['rows'] ?? 0),
    rejected: Number(h['rejected'] ?? 0),
    rejectedReasons: JSON.parse(h['rejected_reasons'] ?? '{}') as Record<string, number>,
    duplicates: Number(h['duplicates'] ?? 0),
    loadedAt: h['loaded_at'] ?? '',
    publishedAt: h['published_at'] ?? null,
    currentSince: h['current_since'] ?? null,
    durationMs: Number(h['duration_ms'] ?? 0),
    error: h['error'] ?? null,
  };
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

  /** Registers a new version in state "loading" and returns its id. */
  async createVersion(dataset: string, fields: { kind: DatasetKind; buckets: number; columns: readonly ColumnSpec[]; fingerprint: string; sourceFiles: number; sourceBytes: number }): Promise<number> {
    const id = await this.redis.incr(this.keys.seq(dataset));
    await this.redis
      .multi()
      .hset(this.keys.manifest(dataset, id), {
        uid: randomBytes(6).toString('hex'), state: 'loading', kind: fields.kind, row_format: fields.kind === 'features' ? ROW_FORMAT : 'json', buckets: fields.buckets, columns: JSON.stringify(fields.columns),
        fingerprint: fields.fingerprint, source_files: fields.sourceFiles, source_bytes: fields.sourceBytes,
        loaded_at: new Date().toISOString(),
      })
      .zadd(this.keys.versions(dataset), String(id), String(id))
      .exec();
    return id;
  }

  async saveDictionary(dataset: string, version: number, entries: readonly string[]): Promise<void> {
    await this.redis.set(this.keys.dictionary(dataset, version), JSON.stringify(entries));
  }

  async dictionary(dataset: string, version: number): Promise<string[]> {
    const raw = await this.redis.get(this.keys.dictionary(dataset, version));
    return raw === null ? [] : (JSON.parse(raw) as string[]);
  }

  async recordStats(dataset: string, version: number, stats: LoadStats): Promise<void> {
    await this.redis.hset(this.keys.manifest(dataset, version), {
      rows: stats.rows, rejected: stats.rejected, rejected_reasons: JSON.stringify(stats.rejectedReasons),
      duplicates: stats.duplicates, duration_ms: Math.round(stats.durationMs),
    });
  }

  async markFailed(dataset: string, version: number, error: string): Promise<void> {
    await this.redis.hset(this.keys.manifest(dataset, version), { state: 'failed', error });
  }

  /** Flips the current pointer to `version` if the caller still holds the lock. */
  async publish(dataset: string, version: number, lockToken: string): Promise<void> {
    const res = await callScript(this.redis, 'maltPublish',
      [this.keys.current(dataset), this.keys.manifest(dataset, version), this.keys.lock(dataset)],
      [version, lockToken, new Date().toISOString(), this.keys.events, versionEvent(dataset, version)]);
    if (res === -1) throw new MaltError('LOAD_IN_PROGRESS', `lost the load lock of ${dataset} before publishing version ${version}; nothing was published`);
    if (res !== 1) throw new MaltError('INTERNAL', `version ${version} of ${dataset} was not in state loading; nothing was published`);
  }

  /** Serves `to` (default: the newest published version older than the current one). */
  async rollback(dataset: string, to?: number): Promise<{ from: number | null; to: number }> {
    const current = await this.currentVersionId(dataset);
    let target = to;
    if (target === undefined) {
      const older = (await this.listVersions(dataset)).filter((v) => v.state === 'published' && (current === null || v.id < current));
      if (older.length === 0) throw new MaltError('NO_PREVIOUS_VERSION', `${dataset} has no published version older than ${current ?? 'none'} to roll back to`);
      target = (older[0] as VersionManifest).id;
    }
    const res = await callScript(this.redis, 'maltRollback', [this.keys.current(dataset), this.keys.manifest(dataset, target)],
      [target, this.keys.events, versionEvent(dataset, target), new Date().toISOString()]);
    if (res !== 1) throw new MaltError('VERSION_NOT_FOUND', `${dataset} has no published version ${target}`);
    return { from: current, to: target };
  }

  /**
   * Deletes versions nobody can be served: unfinished or failed loads (only call this while
   * holding the lock) and published versions beyond the newest `keepVersions` (the current one
   * is never reclaimed). Deletes bucket keys by number from the manifest: no SCAN.
   */
  async reclaim(dataset: string, keepVersions: number, opts: { includeUnfinished: boolean }): Promise<number[]> {
    const current = await this.currentVersionId(dataset);
    const versions = await this.listVersions(dataset);
    const published = versions.filter((v) => v.state === 'published');
    const keep = new Set(published.slice(0, keepVersions).map((v) => v.id));
    if (current !== null) keep.add(current);
    const doomed = versions.filter((v) => !keep.has(v.id) && (v.state === 'published' || opts.includeUnfinished));
    for (const v of doomed) await this.deleteVersion(dataset, v);
    // Ids listed without a manifest (e.g. a crash between the two writes of createVersion) are dropped.
    const listed = await this.redis.zrange(this.keys.versions(dataset), '0', '-1');
    const known = new Set(versions.map((v) => String(v.id)));
    const orphans = listed.filter((id) => !known.has(id));
    if (orphans.length > 0) await this.redis.zrem(this.keys.versions(dataset), ...orphans);
    return doomed.map((v) => v.id);
  }

  private async deleteVersion(dataset: string, v: VersionManifest): Promise<void> {
    const manifestKey = this.keys.manifest(dataset, v.id);
    await this.redis.hset(manifestKey, 'state', 'reclaiming');
    const CHUNK = 500;
    for (let start = 0; start < v.buckets; start += CHUNK) {
      const pipeline = this.redis.pipeline();
      const end = Math.min(v.buckets, start + CHUNK);
      for (let b = start; b < end; b++) pipeline.unlink(this.keys.bucket(dataset, v.id, b));
      await pipeline.exec();
    }
    await this.redis.multi().unlink(this.keys.dictionary(dataset, v.id)).unlink(manifestKey).zrem(this.keys.versions(dataset), String(v.id)).exec();
  }

  async acquireLock(dataset: string, ttlMs: number): Promise<string> {
    const token = randomBytes(12).toString('hex');
    const ok = await this.redis.set(this.keys.lock(dataset), token, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') {
      const ttl = await this.redis.pttl(this.keys.lock(dataset));
      throw new MaltError('LOAD_IN_PROGRESS', `another loader is loading ${dataset} (its lock expires in ${Math.max(0, Math.ceil(ttl / 1000))} s unless renewed)`);
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
