/**
 * Dead letters: an entry that cannot be applied (malformed, or refused by the write path) is
 * appended to the dataset's `dead_letter_stream` with its original fields and the reason, and
 * acknowledged in the same MULTI, so it is neither lost nor retried forever, and a crash cannot
 * leave it acknowledged without its dead letter.
 *
 * Dead-letter entry fields: the original fields as they were, then `dead_code` (catalog code),
 * `dead_reason` (message), `dead_stream`, `dead_id` (where it came from), `dead_consumer` and
 * `dead_at` (RFC 3339). To replay one after fixing it, XADD its original fields back.
 */
import type { Redis } from 'ioredis';

export interface DeadLetter {
  readonly id: string;
  readonly code: string;
  readonly message: string;
  readonly fields: readonly string[];
}

export interface StreamRef {
  readonly stream: string;
  readonly deadLetterStream: string;
  /** Trimmed to about this many entries on every append (XADD MAXLEN ~). */
  readonly deadLetterMaxlen: number;
  readonly group: string;
}

/** Appends the dead letters and XACKs their entries (and `ackIds`) in one MULTI/EXEC. */
export async function deadLetterAndAck(redis: Redis, ref: StreamRef, consumer: string, dead: readonly DeadLetter[], ackIds: readonly string[] = []): Promise<void> {
  if (dead.length === 0 && ackIds.length === 0) return;
  const at = new Date().toISOString();
  const tx = redis.multi();
  for (const d of dead) {
    tx.xadd(ref.deadLetterStream, 'MAXLEN', '~', ref.deadLetterMaxlen, '*', ...d.fields, 'dead_code', d.code, 'dead_reason', d.message, 'dead_stream', ref.stream, 'dead_id', d.id, 'dead_consumer', consumer, 'dead_at', at);
  }
  tx.xack(ref.stream, ref.group, ...dead.map((d) => d.id), ...ackIds);
  const results = await tx.exec();
  const failed = results?.find(([err]) => err !== null);
  if (!results || failed) throw failed?.[0] ?? new Error('dead-letter transaction aborted');
}
