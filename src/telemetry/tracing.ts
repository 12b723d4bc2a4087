/**
 * OpenTelemetry traces, off unless an OTLP endpoint is configured
 * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces,
 * the standard variables). One trace per HTTP request: the request span of
 * @fastify/otel, the engine interaction under it (engine.read, engine.search,
 * engine.transaction...), the store calls under that (store.write,
 * store.search...). Spans name the route pattern, the method, the status and
 * the resource type; the URL path is recorded without its query string (search
 * criteria can hold patient identifiers), and no id or body is ever recorded.
 * Exported over OTLP/HTTP (JSON) by a batch processor; flushed at shutdown.
 */
import type { Tracer } from '@opentelemetry/api';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { FastifyPluginCallback } from 'fastify';
import type { RelaisConfig } from '../config.js';
import type { EngineSession } from '../engine/engine-session.js';
import type { ResourceStore } from '../store/resource-store.js';
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
 * Starts tracing when configured (or with the given processor, for tests).
 * Registers the tracer provider globally: @fastify/otel and the context
 * propagation across awaits (AsyncLocalStorage) go through the OpenTelemetry API.
 */
export function startTracing(config: Pick<RelaisConfig, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_SERVICE_NAME'>, processor?: SpanProcessor): Tracing | undefined {
  const url = tracesEndpoint(config);
  if (!url && !processor) return undefined;
  const exporter: SpanExporter | undefined = url ? new OTLPTraceExporter({ url }) : undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME }),
    spanProcessors: [processor ?? new BatchSpanProcessor(exporter!)],
  });
  provider.register();
  const instrumentation = new FastifyOtelInstrumentation({
    instrumentHooks: false,
    ignorePaths: (route) => QUIET_PATHS.has(route.url),
    requestHook: (span, request) => span.setAttribute('url.path', request.url.split('?')[0]),
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
