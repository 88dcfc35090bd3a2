/**
 * The one write path for real-time updates, shared by every way in (HTTP push, gRPC Push, the
 * stream consumer): validate every item against the dataset's kind and served columns, then
 * apply all of them or none (store/overlay-store.ts: one Lua call per entity, last-write-wins
 * by event time), then tell every replica which entities changed (pub/sub, per-entity cache
 * invalidation). Transports only translate their wire format into UpdateItem[] and map errors.
 */
import type { Redis } from 'ioredis';
import type { MaltConfig } from '../config.js';
import { MaltError } from '../errors.js';

/** One operation, transport-neutral; values as in responses (int64 as strings, timestamps RFC 3339). */
export interface UpdateItem {
  readonly entity_id: string;
  readonly op: 'upsert' | 'delete' | 'add' | 'remove';
  readonly values?: Readonly<Record<string, unknown>>;
  readonly segment?: string;
  /** RFC 3339; default: receive time. */
  readonly event_time?: string;
}

export interface ItemError {
  readonly index: number;
  readonly code: string;
  readonly message: string;
}

/** A batch refused because of the listed items; nothing of it was applied. */
export class UpdateRejected extends MaltError {
  readonly items: readonly ItemError[];

  constructor(items: readonly ItemError[]) {
    super('UPDATE_INVALID', `${items.length} update(s) invalid; nothing applied`);
    this.name = 'UpdateRejected';
    this.items = items;
  }
}

export interface UpdateWritePath {
  /** Validates all items against the dataset's served columns/kind, then applies all or none. */
  apply(dataset: string, items: readonly UpdateItem[], receivedAt?: Date): Promise<{ applied: number }>;
}

export function createUpdateWritePath(redis: Redis, config: MaltConfig): UpdateWritePath {
  void redis;
  void config;
  return {
    apply(): Promise<{ applied: number }> {
      return Promise.reject(new MaltError('INTERNAL', 'updates are not implemented yet'));
    },
  };
}
