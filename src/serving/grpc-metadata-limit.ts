/**
 * Bounds the request metadata (HTTP/2 headers) a gRPC call may carry, like the HTTP server's
 * header limit. grpc-js 1.14 has no server option for this (`grpc.max_metadata_size` is ignored
 * by its server), so a server interceptor measures the received metadata and ends the call
 * with HEADERS_TOO_LARGE (RESOURCE_EXHAUSTED) before any handler or auth check runs.
 */
import * as grpc from '@grpc/grpc-js';

/** Largest request metadata a call may carry: 16 KiB, the same bound as HTTP headers (Node's maxHeaderSize). */
export const MAX_METADATA_BYTES = 16 * 1024;

/** Size of metadata as HTTP/2 counts a header list: name + value + 32 octets per entry. */
export function metadataBytes(metadata: grpc.Metadata): number {
  let total = 0;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const v of values as (string | Buffer)[]) total += key.length + (typeof v === 'string' ? Buffer.byteLength(v) : v.length) + 32;
  }
  return total;
}

/** Request headers grpc-js removes before its interceptors see the metadata (they are not counted). */
const NOT_METADATA = new Set(['grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'accept-encoding', 'te', 'content-type']);

/**
 * metadataBytes of the metadata grpc-js would make of these HTTP/2 request headers, without
 * building it when the plain count is within `limit` (the count never undercounts: grpc-js
 * only drops entries, except that it splits and decodes `-bin` values, so those take the exact way).
 */
export function metadataHeadersBytes(headers: Readonly<Record<string, string | string[] | undefined>>, limit = MAX_METADATA_BYTES): number {
  let total = 0;
  let binary = false;
  for (const key of Object.keys(headers)) {
    if (key.charCodeAt(0) === 58 /* : */ || NOT_METADATA.has(key)) continue;
    if (key.endsWith('-bin')) binary = true;
    const v = headers[key];
    if (typeof v === 'string') total += key.length + Buffer.byteLength(v) + 32;
    else if (v !== undefined) for (const x of v) total += key.length + Buffer.byteLength(x) + 32;
  }
  if (total <= limit && !binary) return total;
  const md = grpc.Metadata.fromHttp2Headers(headers as import('node:http2').IncomingHttpHeaders);
  for (const key of NOT_METADATA) md.remove(key);
  return metadataBytes(md);
}

/** A server interceptor refusing calls whose metadata exceeds `limit` bytes with `fail(err)`'s status. */
export function metadataLimit(limit: number, refuse: (bytes: number) => grpc.StatusObject): grpc.ServerInterceptor {
  return (_method, call) => new grpc.ServerInterceptingCall(call, {
    start: (next) => {
      next({
        onReceiveMetadata: (metadata, mdNext) => {
          const bytes = metadataBytes(metadata);
          if (bytes > limit) call.sendStatus(refuse(bytes));
          else mdNext(metadata);
        },
      });
    },
  });
}
