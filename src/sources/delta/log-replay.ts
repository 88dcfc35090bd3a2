/**
 * Log replay (PROTOCOL.md "Action Reconciliation"): actions applied in commit order, files keyed
 * by (path, deletion-vector uniqueId); an `add` makes that key live, a `remove` takes it out
 * (a tombstone, kept only as a count: VACUUM needs tombstones, readers do not); the latest
 * `protocol` and `metaData` win. Paths are compared as written in the log, as the protocol does.
 */
import { type AddAction, type DeltaAction, deletionVectorId, type MetadataAction, type ProtocolAction } from './actions.js';

export class LogReplay {
  private readonly live = new Map<string, AddAction>();
  protocol: ProtocolAction | null = null;
  metadata: MetadataAction | null = null;
  tombstones = 0;

  apply(actions: readonly DeltaAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'add':
          this.live.set(LogReplay.key(a.path, a), a);
          break;
        case 'remove':
          this.live.delete(LogReplay.key(a.path, a));
          this.tombstones += 1;
          break;
        case 'protocol':
          this.protocol = a;
          break;
        case 'metaData':
          this.metadata = a;
          break;
        default:
          break;
      }
    }
  }

  /** Live files in the order they were (last) added. */
  files(): AddAction[] {
    return [...this.live.values()];
  }

  private static key(path: string, a: { deletionVector: AddAction['deletionVector'] }): string {
    // NUL cannot occur in a path or a DV id, so the pair is unambiguous.
    return `${path}\u0000${deletionVectorId(a.deletionVector)}`;
  }
}
