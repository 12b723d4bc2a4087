/**
 * A proxy that runs some methods of an object (sync or async) inside an
 * OpenTelemetry span, child of the active one, so an HTTP request's trace
 * shows the engine interaction and the store calls under it, without a line
 * of the engine or the store changing. Spans carry the method's name and, when
 * given, bounded attributes (a resource type); never ids or bodies.
 */
import { SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';
import { FhirError } from '../errors.js';

export type SpanAttributes = (args: unknown[]) => Attributes;

export function tracedProxy<T extends object>(target: T, tracer: Tracer, prefix: string, methods: Partial<Record<keyof T & string, SpanAttributes | true>>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const attributesOf = typeof property === 'string' ? (methods as Record<string, SpanAttributes | true | undefined>)[property] : undefined;
      if (!attributesOf) return (value as (...args: unknown[]) => unknown).bind(object);
      return (...args: unknown[]) =>
        tracer.startActiveSpan(`${prefix}.${String(property)}`, { attributes: attributesOf === true ? {} : attributesOf(args) }, (span) => {
          const fail = (error: unknown) => {
            // The error's kind and status, never its text (a FHIR error names the resource).
            if (error instanceof FhirError) span.setAttribute('fhir.status', error.status);
            span.recordException({ name: error instanceof Error ? error.name : 'error' });
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.end();
          };
          try {
            const result = (value as (...args: unknown[]) => unknown).apply(object, args);
            if (result instanceof Promise) {
              return result.then(
                (resolved: unknown) => {
                  span.end();
                  return resolved;
                },
                (error: unknown) => {
                  fail(error);
                  throw error;
                },
              );
            }
            span.end();
            return result;
          } catch (error) {
            fail(error);
            throw error;
          }
        });
    },
  });
}
