/**
 * Traces through @opentelemetry/api: request → lookup (cache) → Redis read, and the phases of a
 * load. Off unless an OTLP endpoint is configured (`telemetry.otlp_endpoint` or
 * OTEL_EXPORTER_OTLP_ENDPOINT): then startTracing() loads the SDK (sdk-trace-base, the OTLP/HTTP
 * exporter) lazily and registers it; otherwise it is never imported. Call sites check
 * `tracing.on` first, so an untraced request creates no span object at all (the api's no-op
 * tracer would still allocate one per call).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Attributes, type Context, type ContextManager, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, context, trace,
} from '@opentelemetry/api';

/** True once startTracing() registered an exporter; read on the hot path (a field load). */
export const tracing = { on: false };

export const tracer = trace.getTracer('malt');

/** Carries the active span through async continuations (what @opentelemetry/context-async-hooks does). */
class AsyncLocalContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const fn = target as unknown as (...a: unknown[]) => unknown;
    return ((...a: unknown[]) => this.with(ctx, fn, undefined, ...a)) as unknown as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.als.disable();
    return this;
  }
}

export interface TracingOptions {
  /** OTLP/HTTP base URL (`/v1/traces` is appended unless it is already there). */
  readonly otlpEndpoint: string | null;
  readonly serviceName: string;
}

export interface TracingHandle {
  /** Exports what is buffered and stops the exporter (the close stack's last step). */
  shutdown(): Promise<void>;
}

let active: TracingHandle | null = null;

/**
 * Starts exporting spans when `otlpEndpoint` is set (else does nothing and returns null). One
 * exporter per process: a second call returns the first handle.
 */
export async function startTracing(opts: TracingOptions): Promise<TracingHandle | null> {
  if (opts.otlpEndpoint === null) return null;
  if (active) return active;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    // A dependency of sdk-trace-base (same release line), not of malt itself.
    import('@opentelemetry/resources'),
  ]);
  const base = opts.otlpEndpoint.replace(/\/+$/, '');
  const url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    // Bounded: spans past the queue are dropped (and counted by the SDK), never block a request.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { maxQueueSize: 2048, scheduledDelayMillis: 1000 })],
  });
  context.setGlobalContextManager(new AsyncLocalContextManager());
  trace.setGlobalTracerProvider(provider);
  tracing.on = true;
  const handle: TracingHandle = {
    shutdown: async () => {
      tracing.on = false;
      active = null;
      try {
        await provider.forceFlush();
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
      }
    },
  };
  active = handle;
  return handle;
}

/**
 * Runs `fn` in a span named `name` (child of the active one), ending it when `fn` settles and
 * marking it failed with the error's message. Only call when `tracing.on`.
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      if (err instanceof Error && 'code' in err && typeof err.code === 'string') span.setAttribute('malt.error_code', err.code);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** inSpan() when tracing is on, else just `fn()` (load phases and other coarse steps). */
export function traced<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return tracing.on ? inSpan(name, attributes, fn) : fn();
}

/** Starts a server span for a request and makes it active for `fn` (fastify's onRequest continuation). */
export function startRequestSpan(name: string, attributes: Attributes): { span: Span; run: <R>(fn: () => R) => R } {
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes });
  const ctx = trace.setSpan(context.active(), span);
  return { span, run: (fn) => context.with(ctx, fn) };
}

export { SpanKind, SpanStatusCode };
