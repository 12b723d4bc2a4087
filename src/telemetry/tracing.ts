/**
 * OpenTelemetry traces, off unless an OTLP endpoint is configured
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces,
 * the standard variables). One trace per HTTP request: the request span of
 * @fastify/otel, the engine interaction under it (engine.read, engine.search,
 * engine.transaction...), the store calls under that (store.write,
 * store.search...). Spans name the route pattern, the method, the status and
 * the resource type; no URL (search criteria and ids can identify a patient),
 * no error message and no body leaves the process (scrubbing-exporter.ts).
 * Exported over OTLP/HTTP (JSON) by a batch processor; flushed at shutdown.
 */
import type { Tracer } from '@opentelemetry/api';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { FastifyPluginCallback } from 'fastify';
import type { RelaisConfig } from '../config.js';
import type { EngineSession } from '../engine/engine-session.js';
import type { ResourceStore } from '../store/resource-store.js';
import { ScrubbingSpanExporter } from './scrubbing-exporter.js';
import { tracedProxy } from './traced-proxy.js';

export interface Tracing {
  tracer: Tracer;
  /** The Fastify plugin making the request spans (register it before any route or hook). */
  fastifyPlugin: FastifyPluginCallback;
  /** Exports what is pending and stops. */
  shutdown(): Promise<void>;
}

/** Where traces go, or undefined when tracing is off. */
export function tracesEndpoint(config: Pick<RelaisConfig, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>): string | undefined {
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Starts tracing when configured (or, for tests, exporting to `testExporter`
 * span by span). Registers the tracer provider globally: @fastify/otel and the
 * context propagation across awaits (AsyncLocalStorage) go through the
 * OpenTelemetry API. Whatever the exporter, spans are scrubbed first.
 */
export function startTracing(config: Pick<RelaisConfig, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_SERVICE_NAME'>, testExporter?: SpanExporter): Tracing | undefined {
  const url = tracesEndpoint(config);
  if (!url && !testExporter) return undefined;
  const processor = testExporter
    ? new SimpleSpanProcessor(new ScrubbingSpanExporter(testExporter))
    : new BatchSpanProcessor(new ScrubbingSpanExporter(new OTLPTraceExporter({ url })));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME }),
    spanProcessors: [processor],
  });
  provider.register();
  const instrumentation = new FastifyOtelInstrumentation({
    // One request span; the engine and store spans under it say where the time went (hook and
    // handler spans would add a span per hook per request, named after the function's source text).
    instrumentHooks: false,
    instrumentHandler: false,
    recordExceptions: false,
    ignorePaths: (route) => QUIET_PATHS.has(route.url),
  });
  instrumentation.setTracerProvider(provider);
  return {
    tracer: provider.getTracer('relais'),
    fastifyPlugin: instrumentation.plugin() as FastifyPluginCallback,
    shutdown: () => provider.shutdown(),
  };
}

const resourceType = (args: unknown[]) => (typeof args[0] === 'string' ? { 'fhir.resource_type': args[0] } : {});

/** The engine session a request acts in, each interaction in its own span. */
export function tracedSession(session: EngineSession, tracer: Tracer): EngineSession {
  return tracedProxy(session, tracer, 'engine', {
    create: resourceType,
    read: resourceType,
    vread: resourceType,
    update: resourceType,
    conditionalUpdate: resourceType,
    patch: resourceType,
    conditionalPatch: resourceType,
    delete: resourceType,
    conditionalDelete: resourceType,
    search: resourceType,
    history: (args) => {
      const scope = args[0] as { resourceType?: string } | undefined;
      return scope?.resourceType ? { 'fhir.resource_type': scope.resourceType } : {};
    },
    transaction: true,
    batch: true,
    operation: (args) => ({ 'fhir.operation': (args[0] as { name?: string }).name ?? '' }),
  });
}

/** The store, each call in its own span (child of the engine's). */
export function tracedStore(store: ResourceStore, tracer: Tracer): ResourceStore {
  return tracedProxy(store, tracer, 'store', {
    write: (args) => ({ 'store.operations': (args[0] as unknown[]).length }),
    readCurrent: resourceType,
    readVersion: resourceType,
    search: true,
    history: true,
    reindex: true,
  });
}
