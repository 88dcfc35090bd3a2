/**
 * Dead letters of `updates_kafka` records: a record that cannot be applied (malformed, or refused
 * by the write path) is written, with the reason, to the dataset's `dead_letter_topic` when it has
 * one, else to a Redis stream (`dead_letter_stream`, default `<topic>:dead`), before the offsets
 * that cover it are committed. So it is neither lost nor retried forever; a crash between the two
 * writes it again on replay (a duplicate dead letter, recognisable by its topic/partition/offset).
 *
 * Topic: the original key, value and headers, plus headers `dead_code`, `dead_reason`,
 * `dead_topic`, `dead_partition`, `dead_offset`, `dead_consumer`, `dead_at`.
 * Stream: fields `key` and `value` (UTF-8), then the same `dead_*` fields; trimmed like the
 * Redis Streams consumer's dead letters (`dead_letter_maxlen`).
 */
import type { Producer } from '@platformatic/kafka';
import type { Redis } from 'ioredis';

export interface KafkaDeadRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null | undefined;
  readonly value: Buffer | null | undefined;
  readonly headers: ReadonlyMap<Buffer, Buffer>;
}

export interface KafkaDeadLetter {
  readonly record: KafkaDeadRecord;
  readonly code: string;
  readonly message: string;
}

export interface KafkaDeadLetterSink {
  /** `topic <name>` or `stream <key>`, for logs. */
  readonly target: string;
  /** Writes every letter (acknowledged by the broker or Redis) or throws. */
  write(letters: readonly KafkaDeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

function deadFields(l: KafkaDeadLetter, consumer: string, at: string): [string, string][] {
  return [
    ['dead_code', l.code], ['dead_reason', l.message], ['dead_topic', l.record.topic],
    ['dead_partition', String(l.record.partition)], ['dead_offset', String(l.record.offset)],
    ['dead_consumer', consumer], ['dead_at', at],
  ];
}

/** Produces dead letters to `topic` (acks from all in-sync replicas); closes the producer on close(). */
export function topicDeadLetters(producer: Producer, topic: string, consumer: string): KafkaDeadLetterSink {
  return {
    target: `topic ${topic}`,
    async write(letters) {
      if (letters.length === 0) return;
      const at = new Date().toISOString();
      await producer.send({
        acks: -1,
        messages: letters.map((l) => {
          const headers = new Map<Buffer, Buffer>(l.record.headers);
          for (const [k, v] of deadFields(l, consumer, at)) headers.set(Buffer.from(k), Buffer.from(v));
          return { topic, headers, ...(l.record.key ? { key: l.record.key } : {}), ...(l.record.value ? { value: l.record.value } : {}) };
        }),
      });
    },
    close: () => producer.close(),
  };
}

/** Appends dead letters to the Redis stream `stream` in one MULTI, trimmed to about `maxlen` entries (dead_letter_maxlen). */
export function streamDeadLetters(redis: Redis, stream: string, consumer: string, maxlen: number): KafkaDeadLetterSink {
  return {
    target: `stream ${stream}`,
    async write(letters) {
      if (letters.length === 0) return;
      const at = new Date().toISOString();
      const tx = redis.multi();
      for (const l of letters) {
        tx.xadd(stream, 'MAXLEN', '~', maxlen, '*', 'key', l.record.key?.toString('utf8') ?? '', 'value', l.record.value?.toString('utf8') ?? '', ...deadFields(l, consumer, at).flat());
      }
      const results = await tx.exec();
      const failed = results?.find(([err]) => err !== null);
      if (!results || failed) throw failed?.[0] ?? new Error('dead-letter transaction aborted');
    },
    close: async () => undefined,
  };
}
