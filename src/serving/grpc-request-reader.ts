/**
 * Hand-written protobuf readers for the fast path's request messages (GetRequest,
 * BatchGetRequest, GetSegmentsRequest: fields 1 and 2, strings or repeated strings), instead of
 * a protobufjs decode + toObject per call. They read the plain wire shapes real clients send
 * and skip unknown fields; anything else (a varint longer than 4 bytes, a group, a known field
 * with another wire type, a length past the end) is handed to protobufjs, the decoder grpc-js
 * uses, so every request decodes, or fails with the same reason, exactly as with grpc-js.
 */

/** A request that did not decode; the call answers INVALID_ARGUMENT with this reason (as grpc-server.ts does). */
export class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/** Field 1 and field 2 of a request message: each a string, or a list for a repeated field. */
interface Shape {
  readonly names: readonly [string, string];
  readonly repeated: readonly [boolean, boolean];
}

export const GET_REQUEST: Shape = { names: ['entity_id', 'datasets'], repeated: [false, true] };
export const BATCH_GET_REQUEST: Shape = { names: ['entity_ids', 'datasets'], repeated: [true, true] };
export const GET_SEGMENTS_REQUEST: Shape = { names: ['entity_id', 'dataset'], repeated: [false, false] };

const FALLBACK = null;

/** A varint of at most 4 bytes (< 2^28) at `at`: [value, next offset], or null. */
function varint(b: Buffer, at: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    if (at + i >= b.length) return -1;
    const c = b[at + i]!;
    v |= (c & 0x7f) << (7 * i);
    if (c < 0x80) {
      varintEnd = at + i + 1;
      return v;
    }
  }
  return -1;
}
let varintEnd = 0;

/** The message as `shape`, or null when it is not one of the plain shapes this reader handles. */
function readPlain(b: Buffer, shape: Shape): Record<string, string | string[]> | null {
  const [n1, n2] = shape.names;
  const [r1, r2] = shape.repeated;
  let f1: string | string[] = r1 ? [] : '';
  let f2: string | string[] = r2 ? [] : '';
  let at = 0;
  while (at < b.length) {
    const tag = varint(b, at);
    if (tag < 0) return FALLBACK;
    at = varintEnd;
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint(b, at);
      if (len < 0 || varintEnd + len > b.length) return FALLBACK;
      const start = varintEnd;
      at = start + len;
      if (field === 1 || field === 2) {
        const s = b.toString('utf8', start, at);
        if (field === 1) {
          if (r1) (f1 as string[]).push(s);
          else f1 = s;
        } else if (r2) (f2 as string[]).push(s);
        else f2 = s;
      }
      continue;
    }
    if (field === 1 || field === 2) return FALLBACK;
    if (wire === 0) {
      let i = at;
      while (i < b.length && b[i]! >= 0x80 && i - at < 9) i++;
      if (i >= b.length || b[i]! >= 0x80) return FALLBACK;
      at = i + 1;
    } else if (wire === 1) {
      at += 8;
    } else if (wire === 5) {
      at += 4;
    } else {
      return FALLBACK;
    }
    if (at > b.length) return FALLBACK;
  }
  return { [n1]: f1, [n2]: f2 };
}

/**
 * A decoder for `shape`: the plain reader, else `exact` (protobufjs, via the method's
 * requestDeserialize); a message neither reads is an UndecodableRequest with protobufjs's reason.
 */
export function requestDecoder(shape: Shape, exact: (b: Buffer) => unknown): (b: Buffer) => unknown {
  return (b) => {
    const plain = readPlain(b, shape);
    if (plain !== null) return plain;
    try {
      return exact(b);
    } catch (err) {
      return new UndecodableRequest(err instanceof Error ? err.message : String(err));
    }
  };
}
