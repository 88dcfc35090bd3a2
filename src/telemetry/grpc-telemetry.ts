/**
 * gRPC instrumentation used by serving/grpc-server.ts's unary wrapper: pre-bound latency
 * children per method and status code, the caller's request id (`x-request-id` metadata) for
 * error lines and spans, and (when tracing is on) a server span per call that is active while
 * the handler runs.
 */
import { status as GrpcStatus, type Metadata } from '@grpc/grpc-js';
import { type Span, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { GrpcMethodMetrics } from './metrics.js';
import { tracer } from './tracing.js';

const CODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(GrpcStatus).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]),
);

/** The histogram children of one method, e.g. grpcMethod('Get'). */
export function grpcMethod(method: string): GrpcMethodMetrics {
  return new GrpcMethodMetrics(method, (code) => CODE_NAMES[code] ?? String(code));
}

const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The call's `x-request-id` metadata when it is a plain token of at most 128 characters, else null. */
export function grpcRequestId(metadata: Metadata): string | null {
  const v = metadata.get('x-request-id')[0];
  return typeof v === 'string' && REQUEST_ID.test(v) ? v : null;
}

/** grpcRequestId from the request's HTTP/2 headers (the node:http2 fast path, serving/grpc-h2-server.ts). */
export function grpcHeaderRequestId(headers: Readonly<Record<string, string | string[] | undefined>>): string | null {
  const raw = headers['x-request-id'];
  const v = Array.isArray(raw) ? raw[0] : raw;
  return typeof v === 'string' && REQUEST_ID.test(v) ? v : null;
}

/** Runs `fn` inside a server span for `method` (only when tracing is on); the span ends with `end(code)`. */
export function grpcSpan(method: string, metadata: Metadata): { run: <R>(fn: () => R) => R; end: (code: number, message?: string) => void } {
  return grpcSpanWithId(method, grpcRequestId(metadata));
}

/** grpcSpan given the request id (grpcRequestId or grpcHeaderRequestId). */
export function grpcSpanWithId(method: string, id: string | null): { run: <R>(fn: () => R) => R; end: (code: number, message?: string) => void } {
  const span: Span = tracer.startSpan(`malt.v1.Serving/${method}`, {
    kind: SpanKind.SERVER,
    attributes: { 'rpc.system': 'grpc', 'rpc.service': 'malt.v1.Serving', 'rpc.method': method, ...(id ? { 'malt.request_id': id } : {}) },
  });
  const ctx = trace.setSpan(context.active(), span);
  return {
    run: (fn) => context.with(ctx, fn),
    end: (code, message) => {
      span.setAttribute('rpc.grpc.status_code', code);
      if (code !== GrpcStatus.OK) span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
      span.end();
    },
  };
}
