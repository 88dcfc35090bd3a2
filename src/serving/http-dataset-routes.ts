/**
 * HTTP dataset routes: what each dataset serves, its versions, and rollback (an admin call: the
 * route declares `scope: 'admin'` and the auth hook checks it; see src/auth/auth-policy.ts).
 * Redis work here is bounded by a deadline too.
 */
import type { FastifyInstance } from 'fastify';
import type { MaltConfig } from '../config.js';
import { MaltError } from '../errors.js';
import type { SnapshotStore } from '../store/snapshot-store.js';
import { provenanceJson, versionsJson } from '../model/version-json.js';
import { withDeadline } from './deadline.js';
import { datasetsSchema } from './http-schemas.js';
import type { VersionTracker } from './version-tracker.js';

/** `to` from the rollback body: absent, a positive integer, or a decimal string of one. */
function rollbackTarget(body: unknown): number | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) throw new MaltError('INVALID_ARGUMENT', 'body must be a JSON object like {"to": "3"}');
  const extra = Object.keys(body).filter((k) => k !== 'to');
  if (extra.length > 0) throw new MaltError('INVALID_ARGUMENT', `unknown field(s) ${extra.join(', ')}; the body is {"to": "<version>"}`);
  const raw = (body as { to?: unknown }).to;
  if (raw === undefined || raw === null) return undefined;
  const ok = (typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0) || (typeof raw === 'string' && /^[1-9]\d{0,15}$/.test(raw));
  if (!ok) throw new MaltError('INVALID_ARGUMENT', `"to" must be a version id (a positive integer), got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function registerDatasetRoutes(app: FastifyInstance, config: MaltConfig, tracker: VersionTracker, store: SnapshotStore): void {
  // Admin and listing calls read several keys; give them a few request timeouts, at least 1 s.
  const deadlineMs = Math.max(1000, config.serving.requestTimeoutMs * 4);
  const known = (name: string): void => {
    if (!config.datasets.some((d) => d.name === name)) throw new MaltError('DATASET_NOT_FOUND', `unknown dataset ${JSON.stringify(name)}`);
  };

  app.get('/v1/datasets', { schema: datasetsSchema.list }, async () => ({
    datasets: config.datasets.map((d) => {
      const v = tracker.get(d.name);
      return {
        name: d.name, kind: d.kind, key: d.key, source: d.source.uri,
        current_version: v ? v.versionString : null, serving_since: v?.since ?? null, loaded_at: v?.manifest.loadedAt ?? null,
        rows: v?.manifest.rows ?? null, source_fingerprint: v?.manifest.fingerprint ?? null,
        // The served version's source snapshot (source_version: the Delta version; null for Parquet).
        ...(v ? provenanceJson(v.manifest) : { source_format: d.source.format, source_version: null, source_as_of: null, source_snapshot_id: null }),
        columns: v ? v.columns.map((c) => ({ name: c.name, type: c.type })) : null,
        // retention_exceeded: the served version is older than updates.retention, so updates newer
        // than it may have expired (docs/updates.md#retention); the tracker also logs it.
        updates: d.updates.enabled
          ? { retention_ms: d.updates.retentionMs, retention_exceeded: v ? Number(v.asOfMicros / 1000n) < Date.now() - d.updates.retentionMs : false }
          : null,
      };
    }),
  }));

  app.get<{ Params: { name: string } }>('/v1/datasets/:name/versions', { schema: datasetsSchema.versions }, async (req) => {
    known(req.params.name);
    const [current, versions] = await withDeadline(Promise.all([store.currentVersionId(req.params.name), store.listVersions(req.params.name)]), deadlineMs);
    return versionsJson(req.params.name, current, versions);
  });

  app.post<{ Params: { name: string }; Body: unknown }>('/v1/datasets/:name/rollback', { schema: datasetsSchema.rollback, config: { scope: 'admin' } }, async (req) => {
    known(req.params.name);
    const to = rollbackTarget(req.body);
    const res = await withDeadline(store.rollback(req.params.name, to), deadlineMs);
    // This replica serves the rolled-back version before it answers.
    await withDeadline(tracker.refreshAll(), deadlineMs);
    return { dataset: req.params.name, from_version: res.from === null ? null : String(res.from), to_version: String(res.to) };
  });
}
