/**
 * Log replay (PROTOCOL.md "Action Reconciliation"): actions applied in commit order, files keyed
 * by (path, deletion-vector uniqueId); an `add` makes that key live, a `remove` takes it out
 * (a tombstone, kept only as a count: VACUUM needs tombstones, readers do not); the latest
 * `protocol` and `metaData` win. Paths are compared by the file they name (`canonical`: decoded and
 * resolved against the table root), as Spark does: a remove that spells a relative add's file as
 * an absolute URI (or escapes it differently) still removes it, instead of leaving it served.
 */
import { type AddAction, type DeltaAction, deletionVectorId, type MetadataAction, type ProtocolAction } from './actions.js';

export class LogReplay {
  private readonly live = new Map<string, AddAction>();
  protocol: ProtocolAction | null = null;
  metadata: MetadataAction | null = null;
  tombstones = 0;

  /** `canonical` maps a log path to the file it names (default: the path as written). */
  constructor(private readonly canonical: (path: string) => string = (p) => p) {}

  apply(actions: readonly DeltaAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'add':
          this.live.set(this.key(a.path, a), a);
          break;
        case 'remove':
          this.live.delete(this.key(a.path, a));
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

  private key(path: string, a: { deletionVector: AddAction['deletionVector'] }): string {
    // NUL cannot occur in a path or a DV id, so the pair is unambiguous.
    return `${this.canonical(path)}\u0000${deletionVectorId(a.deletionVector)}`;
  }
}
