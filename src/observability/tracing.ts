// OpenTelemetry tracing. Spans are made through @opentelemetry/api everywhere; the SDK
// (provider, batch processor, OTLP/HTTP exporter, AsyncLocalStorage context manager) is
// started only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without it the API's no-op
// tracer hands out non-recording spans: nothing is recorded, buffered or sent.
//
// Trace context crosses the outbox: a command stores the W3C context of its outbox
// append on the rows it writes, and the projection batch that applies them later is
// parented to it (or links to it), so one trace runs command → outbox → projection →
// publish. Even with tracing off, an incoming `traceparent` is carried through (the
// no-op tracer keeps a valid remote parent), so rows still name the caller's trace.
import {
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Logger } from 'pino';

const W3C = new W3CTraceContextPropagator();
const MAX_HEADER = 512;

export function tracer(): Tracer {
  return trace.getTracer('parallax');
}

/** The context a stored or received W3C carrier (`traceparent`, `tracestate`) names. */
export function contextFromCarrier(carrier: Record<string, string> | null | undefined, base = ROOT_CONTEXT): Context {
  if (!carrier?.traceparent || carrier.traceparent.length > MAX_HEADER) return base;
  const clean: Record<string, string> = { traceparent: carrier.traceparent };
  if (carrier.tracestate && carrier.tracestate.length <= MAX_HEADER) clean.tracestate = carrier.tracestate;
  return W3C.extract(base, clean, defaultTextMapGetter);
}

/** The W3C carrier of the span active in `ctx`, or null when there is none. */
export function carrierOf(ctx: Context): Record<string, string> | null {
  const carrier: Record<string, string> = {};
  W3C.inject(ctx, carrier, defaultTextMapSetter);
  return carrier.traceparent ? carrier : null;
}

/** Ends a span with the error recorded (unexpected errors) or only noted (domain outcomes). */
export function endWithError(span: Span, error: unknown, expected = false): void {
  if (expected) span.setAttribute('parallax.outcome', error instanceof Error ? error.name : 'error');
  else {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/**
 * The parent and links of a projection batch span: a batch whose events all come from
 * one trace is parented to the first of them (links to the others' spans); a batch
 * mixing traces starts its own trace and links to each.
 */
export function batchParent(
  carriers: (Record<string, string> | null)[],
  maxLinks = 32,
): { parent: Context; links: Link[] } {
  const seen = new Set<string>();
  const contexts = [];
  for (const carrier of carriers) {
    if (!carrier?.traceparent || seen.has(carrier.traceparent)) continue;
    seen.add(carrier.traceparent);
    const spanContext = trace.getSpanContext(contextFromCarrier(carrier));
    if (spanContext && trace.isSpanContextValid(spanContext)) contexts.push(spanContext);
  }
  if (contexts.length === 0) return { parent: ROOT_CONTEXT, links: [] };
  const [first, ...rest] = contexts;
  if (rest.every((c) => c.traceId === first!.traceId)) {
    return {
      parent: trace.setSpanContext(ROOT_CONTEXT, first!),
      links: rest.slice(0, maxLinks).map((c) => ({ context: c })),
    };
  }
  return { parent: ROOT_CONTEXT, links: contexts.slice(0, maxLinks).map((c) => ({ context: c })) };
}

/**
 * Starts the SDK when OTEL_EXPORTER_OTLP_ENDPOINT is set (standard OTEL_* variables
 * configure the exporter); returns how to flush and stop it. Off otherwise: no SDK
 * module is even loaded.
 */
export async function startTracing(
  env: NodeJS.ProcessEnv,
  log: Logger,
  attributes: Record<string, string>,
): Promise<() => Promise<void>> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return async () => {};
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { AsyncLocalStorageContextManager }, res] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/resources'),
    ]);
  const provider = new BasicTracerProvider({
    resource: res
      .defaultResource()
      .merge(res.resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'parallax', ...attributes })),
    spanProcessors: [
      new BatchSpanProcessor(
        new OTLPTraceExporter({
          url:
            env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
            `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`,
        }),
      ),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(W3C);
  trace.setGlobalTracerProvider(provider);
  log.info({ endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT }, 'tracing: exporting spans over OTLP/HTTP');
  return () => provider.shutdown().catch((error) => log.warn({ err: error }, 'tracing: flush failed'));
}
