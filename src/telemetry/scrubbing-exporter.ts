/**
 * What leaves the process in a trace: deny by default. Instrumentations record
 * more than health data allows — @fastify/otel puts the request URL (with its
 * query string, and the resource id in the path) in `url.path`, an error's
 * message in the span status and in an `exception` event (FHIR errors name
 * the resource: "Patient/123 is not known"). Every span passes through here
 * before any exporter sees it:
 * - attributes: only the keys listed below (bounded values: a method, a route
 *   pattern, a status, a resource type); `url.path` becomes the route pattern;
 * - status: its code only, never its message;
 * - events: their name only, and for exceptions their type (the error's class).
 * Hand-written: the OpenTelemetry SDK has no attribute filter for exporters
 * (its span limits bound lengths and counts, not content).
 */
import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

const KEPT_ATTRIBUTES = new Set([
  'http.request.method',
  'http.route',
  'http.response.status_code',
  'fastify.root',
  'fastify.type',
  'fhir.resource_type',
  'fhir.status',
  'fhir.operation',
  'store.operations',
]);

function scrubbedAttributes(attributes: Attributes): Attributes {
  const kept: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (KEPT_ATTRIBUTES.has(key)) kept[key] = value;
  // The route pattern (/fhir/:type/:id) stands for the path: same grouping, no id.
  if ('url.path' in attributes) kept['url.path'] = attributes['http.route'] ?? '(no route)';
  return kept;
}

export function scrubbedSpan(span: ReadableSpan): ReadableSpan {
  const overrides: Partial<ReadableSpan> = {
    attributes: scrubbedAttributes(span.attributes),
    status: { code: span.status.code },
    events: span.events.map((event) => ({
      name: event.name,
      time: event.time,
      ...(event.name === 'exception' && event.attributes?.['exception.type'] !== undefined ? { attributes: { 'exception.type': event.attributes['exception.type'] } } : {}),
    })),
  };
  // The span itself stays the prototype: spanContext() and the other fields read through.
  return Object.assign(Object.create(span) as ReadableSpan, overrides);
}

export class ScrubbingSpanExporter implements SpanExporter {
  constructor(private readonly next: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: Parameters<SpanExporter['export']>[1]): void {
    this.next.export(spans.map(scrubbedSpan), resultCallback);
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush?.() ?? Promise.resolve();
  }
}
