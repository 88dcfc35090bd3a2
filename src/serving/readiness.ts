/**
 * The one readiness rule, shared by /readyz and grpc.health.v1: ready means the store answers and
 * every declared dataset has a served version, except datasets with `allow_empty: true`.
 * ReadinessMonitor follows state changes (the version tracker's polls, Redis connection events,
 * /readyz pings), pushes them to listeners (gRPC health) and logs each change once.
 */
import type { DatasetConfig } from '../config.js';
import type { Logger } from '../telemetry/logger.js';

export type StoreState = 'up' | 'unreachable' | 'stalled';

export interface Readiness {
  readonly ready: boolean;
  readonly store: StoreState;
  /** Served version per declared dataset (null = none). */
  readonly datasets: Readonly<Record<string, string | null>>;
  /** Why not ready ('' when ready). */
  readonly reason: string;
}

export function readinessOf(store: StoreState, datasets: readonly DatasetConfig[], served: (name: string) => string | null): Readiness {
  const versions = Object.fromEntries(datasets.map((d) => [d.name, served(d.name)]));
  if (store !== 'up') return { ready: false, store, datasets: versions, reason: store === 'stalled' ? 'redis_stalled' : 'redis_unavailable' };
  const missing = datasets.filter((d) => !d.allowEmpty && versions[d.name] === null).map((d) => d.name);
  if (missing.length > 0) return { ready: false, store, datasets: versions, reason: `no served version of ${missing.join(', ')}` };
  return { ready: true, store, datasets: versions, reason: '' };
}

function servingList(r: Readiness): string {
  return Object.entries(r.datasets).map(([n, v]) => (v === null ? `${n} (none)` : `${n} v${v}`)).join(', ');
}

/** The log line for entering state r; one per transition. */
function describe(r: Readiness, previous: Readiness | null): { level: 'info' | 'warn'; message: string } {
  if (r.store === 'unreachable') return { level: 'warn', message: 'redis unreachable: each dataset\'s fallback answers (cached, defaults), else 503 STORE_UNAVAILABLE' };
  if (r.store === 'stalled') return { level: 'warn', message: 'redis not answering (stalled): each dataset\'s fallback answers (cached, defaults), else 503 STORE_UNAVAILABLE' };
  const back = previous !== null && previous.store !== 'up' ? 'redis back: ' : '';
  if (r.ready) return { level: 'info', message: `${back}ready: serving ${servingList(r)}` };
  return { level: 'warn', message: `${back}not ready: ${r.reason}; serving ${servingList(r)}; unloaded datasets answer 503 DATASET_NOT_LOADED` };
}

export class ReadinessMonitor {
  private storeState: StoreState = 'up';
  private last: Readiness | null = null;
  private lastKey = '';
  private readonly listeners: ((r: Readiness) => void)[] = [];

  constructor(
    private readonly datasets: readonly DatasetConfig[],
    private readonly served: (name: string) => string | null,
    private readonly logger: Logger,
    private readonly quiet: () => boolean = () => false,
  ) {}

  get store(): StoreState {
    return this.storeState;
  }

  current(): Readiness {
    return readinessOf(this.storeState, this.datasets, this.served);
  }

  onChange(fn: (r: Readiness) => void): void {
    this.listeners.push(fn);
    fn(this.current());
  }

  /** Records the store's state (and re-evaluates); call after anything that learned it. */
  setStore(state: StoreState, detail?: string): Readiness {
    this.storeState = state;
    return this.update(detail);
  }

  /** Re-evaluates (served versions may have changed); notifies and logs only on a change. */
  update(detail?: string): Readiness {
    const r = this.current();
    const key = JSON.stringify([r.ready, r.store, r.datasets]);
    if (key === this.lastKey) return r;
    const previous = this.last;
    this.last = r;
    this.lastKey = key;
    if (this.quiet()) return r;
    for (const fn of this.listeners) fn(r);
    // A version flip while ready is logged by the tracker; log readiness and store changes here.
    if (previous === null || previous.ready !== r.ready || previous.store !== r.store) {
      const { level, message } = describe(r, previous);
      this.logger[level](message, detail ? { detail } : undefined);
    }
    return r;
  }
}
