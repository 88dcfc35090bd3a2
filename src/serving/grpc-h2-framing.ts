/**
 * gRPC message framing on HTTP/2 (the gRPC over HTTP/2 spec's Length-Prefixed-Message: a
 * 1-byte compressed flag, a 4-byte big-endian length, the message) for the fast path
 * (grpc-h2-server.ts): an incremental reader that refuses a message larger than the receive
 * limit as soon as its length is read, the response frame, and request decompression
 * (`grpc-encoding` gzip / deflate). Status messages and limits are grpc-js's, word for word, so a
 * client cannot tell which of the two answered.
 */
import zlib from 'node:zlib';

/** Largest request message (after decompression), as grpc-js's `grpc.max_receive_message_length` in grpc-server.ts. */
export const MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;

/** A gRPC status to answer with (code from @grpc/grpc-js's `status`, details as sent in grpc-message). */
export interface CallStatus {
  readonly code: number;
  readonly details: string;
}

const INTERNAL = 13;
const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;

/** Thrown by MessageReader.write for a message over the limit. */
export class MessageTooLarge extends Error implements CallStatus {
  readonly code = RESOURCE_EXHAUSTED;
  readonly details: string;
  constructor(size: number, limit: number) {
    super(`Received message larger than max (${size} vs ${limit})`);
    this.details = this.message;
  }
}

/** Where MessageReader delivers each message it completes. */
export interface MessageSink {
  onMessage(compressed: boolean, body: Buffer): void;
}

/**
 * Splits a request body, arriving in chunks of any size, into messages. A message's bytes are
 * kept as they arrive (not allocated up front from its declared length, which a client could
 * declare and never send).
 */
export class MessageReader {
  private readonly head = Buffer.alloc(5);
  private headFill = 0;
  private parts: Buffer[] = [];
  private size = 0;
  private got = 0;

  constructor(private readonly limit: number = MAX_RECEIVE_MESSAGE_BYTES) {}

  /** Feeds one chunk; calls `sink.onMessage` for each message it completes (the body may share memory with the chunk). */
  write(chunk: Buffer, sink: MessageSink): void {
    let at = 0;
    // The usual case: a whole message in one chunk.
    if (this.headFill === 0 && chunk.length >= 5) {
      const size = chunk.readUInt32BE(1);
      if (size > this.limit) throw new MessageTooLarge(size, this.limit);
      if (chunk.length === size + 5) {
        sink.onMessage(chunk[0] === 1, chunk.subarray(5));
        return;
      }
    }
    while (at < chunk.length) {
      if (this.headFill < 5) {
        const n = Math.min(5 - this.headFill, chunk.length - at);
        chunk.copy(this.head, this.headFill, at, at + n);
        this.headFill += n;
        at += n;
        if (this.headFill < 5) return;
        this.size = this.head.readUInt32BE(1);
        if (this.size > this.limit) throw new MessageTooLarge(this.size, this.limit);
        this.parts = [];
        this.got = 0;
      }
      const n = Math.min(this.size - this.got, chunk.length - at);
      if (n > 0) this.parts.push(chunk.subarray(at, at + n));
      this.got += n;
      at += n;
      if (this.got === this.size) {
        // grpc-js counts only a flag of exactly 1 as compressed.
        const compressed = this.head[0] === 1;
        const body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
        this.headFill = 0;
        this.parts = [];
        sink.onMessage(compressed, body);
      }
    }
  }
}

/** `message` behind the 5-byte prefix (not compressed), in one buffer. */
export function frameMessage(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(message.length + 5);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/**
 * Why a message with the compressed flag set cannot be read under `encoding` (the request's
 * grpc-encoding, `identity` when absent), or null when it can: UNIMPLEMENTED for an encoding
 * this server does not support, as grpc-js answers. Under `identity` the spec calls a
 * compressed flag a protocol error (INTERNAL); grpc-js reads such a message as it is, and so
 * does the fast path, so both answer a client alike (test/fuzz-inputs.test.ts sends these).
 */
export function compressedProblem(encoding: string): CallStatus | null {
  if (encoding === 'gzip' || encoding === 'deflate' || encoding === 'identity') return null;
  return { code: UNIMPLEMENTED, details: `Received message compressed with unsupported encoding "${encoding}"` };
}

/** Decompresses a gzip or deflate message, refusing one that grows past `limit` (grpc-js's statuses). */
export function decompress(body: Buffer, encoding: 'gzip' | 'deflate', limit: number = MAX_RECEIVE_MESSAGE_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = encoding === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
    const parts: Buffer[] = [];
    let total = 0;
    let failed = false;
    z.on('error', () => {
      if (failed) return;
      failed = true;
      reject({ code: INTERNAL, details: 'Failed to decompress message' } satisfies CallStatus);
    });
    z.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      total += chunk.length;
      if (total > limit && !failed) {
        failed = true;
        z.destroy();
        reject({ code: RESOURCE_EXHAUSTED, details: `Received message that decompresses to a size larger than ${limit}` } satisfies CallStatus);
      }
    });
    z.on('end', () => {
      if (!failed) resolve(Buffer.concat(parts, total));
    });
    z.end(body);
  });
}
