/**
 * When a served version turns stale: its as-of time plus the dataset's max_age
 * (docs/degraded-modes.md). The version tracker builds the stale view of a version once that time
 * passes (one timer per dataset, no per-request clock read); the stale view has its own cache
 * prefix, so results rendered PRESENT before are not served after, and renders STALE instead.
 */

/** The wall-clock ms at which a snapshot with this as-of time turns stale; Infinity without max_age. */
export function staleAtMs(asOfMicros: bigint, maxAgeMs: number | null): number {
  return maxAgeMs === null ? Infinity : Number(asOfMicros / 1000n) + maxAgeMs;
}

/** The view of the same version marked stale (cache entries of the fresh view are not reused). */
export function staleView<V extends { readonly stale: boolean; readonly cachePrefix: string }>(view: V): V {
  return { ...view, stale: true, cachePrefix: `${view.cachePrefix}s\u0000` };
}

/** setTimeout's longest delay; later instants are re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** One pending "turns stale" timer per dataset; unref'd, so an idle process may exit. */
export class StaleTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Calls `fire` once `atMs` has passed, replacing the dataset's previous timer. */
  schedule(dataset: string, atMs: number, fire: () => void): void {
    this.clear(dataset);
    if (!Number.isFinite(atMs)) return;
    const arm = (): void => {
      const wait = atMs - this.now();
      if (wait <= 0) {
        this.timers.delete(dataset);
        fire();
        return;
      }
      const t = setTimeout(arm, Math.min(wait, MAX_DELAY_MS));
      t.unref();
      this.timers.set(dataset, t);
    };
    arm();
  }

  clear(dataset: string): void {
    const t = this.timers.get(dataset);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(dataset);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
