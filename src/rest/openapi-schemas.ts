/**
 * JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) of FHIR R4 resources for
 * the OpenAPI document, derived from the same R4 element tree that validates
 * writes (src/fhir/definitions.ts): each resource type's elements with their
 * cardinality (array or single), primitive JSON type and FHIR regex, choice
 * elements expanded (deceasedBoolean, deceasedDateTime), and the `_element`
 * companions of primitives. Nested datatypes and backbone elements are plain
 * objects: the document describes the shape a client generator needs, the
 * server's validator stays the authority on everything deeper.
 */
import type { FhirDefinitions } from '../fhir/definitions.js';

export type JsonSchema = Record<string, unknown>;

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function primitiveSchema(definitions: FhirDefinitions, type: string): JsonSchema | undefined {
  const definition = definitions.types[type];
  if (definition?.kind !== 'primitive-type' || !definition.json) return undefined;
  // FHIR's regexes are whole-value patterns; JSON Schema patterns are not anchored.
  const pattern = definition.json === 'string' && definition.regex ? { pattern: `^(?:${definition.regex})$` } : {};
  return { type: definition.json, ...pattern };
}

function valueSchema(definitions: FhirDefinitions, type: string): JsonSchema {
  return primitiveSchema(definitions, type) ?? { type: 'object' };
}

/** The schema of one resource type: its elements, `resourceType` fixed, nothing else allowed (as the validator does). */
export function resourceSchema(definitions: FhirDefinitions, resourceType: string): JsonSchema {
  const properties: Record<string, JsonSchema> = { resourceType: { const: resourceType } };
  for (const [name, element] of definitions.childrenOf(resourceType)) {
    const many = element.max !== '0' && element.max !== '1';
    const wrap = (schema: JsonSchema): JsonSchema => (many ? { type: 'array', items: schema } : schema);
    const choices = name.endsWith('[x]') ? (element.types ?? []).map((type) => [name.slice(0, -3) + upperFirst(type), type] as const) : [[name, element.types?.[0] ?? 'BackboneElement'] as const];
    for (const [jsonName, type] of choices) {
      if (jsonName === 'id') {
        properties.id = { type: 'string', pattern: '^[A-Za-z0-9\\-\\.]{1,64}$' };
        continue;
      }
      properties[jsonName] = wrap(valueSchema(definitions, type));
      // A primitive's id and extensions travel in `_name` (R4 JSON page, "primitive elements").
      if (primitiveSchema(definitions, type)) properties[`_${jsonName}`] = many ? { type: 'array', items: { type: ['object', 'null'] } } : { type: 'object' };
    }
  }
  return { type: 'object', required: ['resourceType'], properties, additionalProperties: false };
}

/** Schemas shared by every operation: any resource, a Bundle, an OperationOutcome, a JSON Patch. */
export function commonSchemas(): Record<string, JsonSchema> {
  return {
    AnyResource: {
      type: 'object',
      description: 'A FHIR R4 resource (its resourceType says which)',
      required: ['resourceType'],
      properties: { resourceType: { type: 'string' } },
    },
    Bundle: {
      type: 'object',
      description: 'A FHIR R4 Bundle: searchset, history, batch-response, transaction-response (or a batch/transaction request)',
      required: ['resourceType', 'type'],
      properties: {
        resourceType: { const: 'Bundle' },
        id: { type: 'string' },
        meta: { type: 'object' },
        type: { enum: ['document', 'message', 'transaction', 'transaction-response', 'batch', 'batch-response', 'history', 'searchset', 'collection'] },
        total: { type: 'integer', minimum: 0 },
        link: { type: 'array', items: { type: 'object', required: ['relation', 'url'], properties: { relation: { type: 'string' }, url: { type: 'string' } } } },
        entry: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              fullUrl: { type: 'string' },
              resource: { $ref: '#/components/schemas/AnyResource' },
              search: { type: 'object', properties: { mode: { enum: ['match', 'include', 'outcome'] }, score: { type: 'number' } } },
              request: { type: 'object', properties: { method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'] }, url: { type: 'string' } } },
              response: { type: 'object', properties: { status: { type: 'string' }, location: { type: 'string' }, etag: { type: 'string' }, lastModified: { type: 'string' }, outcome: { type: 'object' } } },
            },
          },
        },
      },
    },
    OperationOutcome: {
      type: 'object',
      description: 'Why a request failed (every error of this server is one)',
      required: ['resourceType', 'issue'],
      properties: {
        resourceType: { const: 'OperationOutcome' },
        issue: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['severity', 'code'],
            properties: {
              severity: { enum: ['fatal', 'error', 'warning', 'information'] },
              code: { type: 'string' },
              diagnostics: { type: 'string' },
              expression: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    Parameters: {
      type: 'object',
      description: "An operation's input or output",
      required: ['resourceType'],
      properties: { resourceType: { const: 'Parameters' }, parameter: { type: 'array', items: { type: 'object' } } },
    },
    JsonPatch: {
      type: 'array',
      description: 'A JSON Patch (RFC 6902)',
      items: {
        type: 'object',
        required: ['op', 'path'],
        properties: { op: { enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] }, path: { type: 'string' }, from: { type: 'string' }, value: {} },
      },
    },
  };
}
