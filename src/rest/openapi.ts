/**
 * The OpenAPI 3.1 document of the FHIR API, derived from what the server
 * really does, so it cannot drift from the code:
 * - the paths and methods are the route table's (fhir-routes.ts), `:type`
 *   expanded to every resource type the CapabilityStatement lists with the
 *   interactions it declares for it, `$operation` segments to the operations
 *   registered at that level;
 * - the search parameters of each type are the CapabilityStatement's (those
 *   really indexed);
 * - the resource schemas come from the R4 element tree (openapi-schemas.ts);
 * - every error is an OperationOutcome (4XX);
 * - the subscriptions' websocket endpoint, outside the FHIR base, with its own
 *   server (the origin): what OpenAPI can say of it is the handshake;
 * - the bulk export's status and file routes (Bulk Data IG 2.0.0), registered
 *   beside the route table (src/bulk/bulk-routes.ts), and the 202 of the
 *   asynchronous operations' kick-off.
 * A route of the table without a description here is an error at start-up
 * (and in the tests), not a silent gap.
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4';
import type { FhirDefinitions } from '../fhir/definitions.js';
import type { FhirOperation, OperationLevel } from '../operations/operation-registry.js';
import type { RouteDescription } from './fhir-routes.js';
import { commonSchemas, resourceSchema, type JsonSchema } from './openapi-schemas.js';

type OperationObject = Record<string, unknown>;
type PathItem = Record<string, OperationObject>;

export interface OpenApiInputs {
  routes: RouteDescription[];
  capability: CapabilityStatement;
  operations: FhirOperation[];
  definitions: FhirDefinitions;
  /** The FHIR base URL: the document's server, so "Try it out" works behind a proxy too. */
  baseUrl: string;
  /** Bearer tokens are required (AUTH_MODE dev or oidc). */
  authenticated: boolean;
  version: string;
  /** The subscriptions' websocket channel (outside the FHIR base): its path on the server's origin. */
  websocketPath?: string;
  /** The bulk export's routes under the FHIR base, as Fastify URLs (`/bulk-status/:job`, `/bulk-files/:job/:file`). */
  bulkRoutes?: { status: string; file: string };
}

/**
 * Routes the server registers that the document leaves out on purpose (every other route of
 * the server must be documented: test/operations/openapi.test.ts compares with every route
 * Fastify registered). HEAD, which Fastify adds to every GET, is implied by the GET.
 */
export const OUTSIDE_THE_DOCUMENT: ReadonlyArray<{ url: RegExp; why: string }> = [
  { url: /^\/docs(\/|$)/, why: 'Swagger UI: its page, assets and its own copy of this document' },
  { url: /^\/openapi\.json$/, why: 'this document' },
  { url: /^\/(healthz|readyz)$/, why: "the orchestrator's probes (README, Docker: the image's health check)" },
  { url: /^\/metrics$/, why: "Prometheus exposition for the operator, not the integrators' API (README, metrics)" },
  {
    url: /^(\/fhir)?\/\.well-known\/smart-configuration$|^\/auth\/token$/,
    why: "SMART on FHIR discovery and the OAuth 2.0 token endpoint: contracts of SMART App Launch / Backend Services (RFC 6749 errors, not OperationOutcomes), advertised by the CapabilityStatement's security",
  },
];

const FHIR_JSON = 'application/fhir+json';
const FHIR_XML = 'application/fhir+xml';
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });

/** A FHIR request body in JSON (schema) or XML (text). */
function fhirContent(schema: JsonSchema): Record<string, unknown> {
  return { [FHIR_JSON]: { schema }, [FHIR_XML]: { schema: { type: 'string' } } };
}

/** A FHIR response: FHIR JSON or XML, or plain application/json or application/xml when asked so by Accept or _format. */
function fhirResponseContent(schema: JsonSchema): Record<string, unknown> {
  return { ...fhirContent(schema), 'application/json': { schema }, 'application/xml': { schema: { type: 'string' } } };
}

function ok(description: string, schema: JsonSchema, headers: string[] = []): Record<string, unknown> {
  return {
    description,
    content: fhirResponseContent(schema),
    ...(headers.length > 0 ? { headers: Object.fromEntries(headers.map((h) => [h, { $ref: `#/components/headers/${h}` }])) } : {}),
  };
}

/** Every error: an OperationOutcome with the status the R4 http page prescribes. */
const ERRORS = { '4XX': { $ref: '#/components/responses/Error' } };

const CONTROL = {
  _count: { name: '_count', in: 'query', description: 'Page size (reduced to MAX_PAGE_SIZE)', schema: { type: 'integer', minimum: 0 } },
  _sort: { name: '_sort', in: 'query', description: 'Comma-separated sort keys, `-` for descending', schema: { type: 'string' } },
  _include: { name: '_include', in: 'query', description: 'Type:parameter[:target] to include (`:iterate` allowed)', schema: { type: 'string' } },
  _revinclude: { name: '_revinclude', in: 'query', description: 'Type:parameter[:target] whose resources point here', schema: { type: 'string' } },
  _summary: { name: '_summary', in: 'query', schema: { enum: ['true', 'false', 'text', 'data', 'count'] } },
  _elements: { name: '_elements', in: 'query', description: 'Comma-separated top-level elements to return', schema: { type: 'string' } },
  _total: { name: '_total', in: 'query', schema: { enum: ['none', 'estimate', 'accurate'] } },
  _format: { name: '_format', in: 'query', description: 'Response format (overrides Accept)', schema: { enum: ['json', 'xml', FHIR_JSON, FHIR_XML, 'application/json', 'application/xml'] } },
  _pretty: { name: '_pretty', in: 'query', schema: { enum: ['true', 'false'] } },
  _since: { name: '_since', in: 'query', description: 'Only versions after this instant', schema: { type: 'string', format: 'date-time' } },
  _type: { name: '_type', in: 'query', description: 'Comma-separated resource types (system-level search)', schema: { type: 'string' } },
  _id: { name: '_id', in: 'query', schema: { type: 'string' } },
  _lastUpdated: { name: '_lastUpdated', in: 'query', description: 'date search on meta.lastUpdated (prefixes eq, ne, gt, lt, ge, le, sa, eb, ap)', schema: { type: 'string' } },
  id: { name: 'id', in: 'path', required: true, description: 'Logical id', schema: { type: 'string', pattern: '^[A-Za-z0-9\\-\\.]{1,64}$' } },
  vid: { name: 'vid', in: 'path', required: true, description: 'Version id', schema: { type: 'string', pattern: '^[0-9]{1,15}$' } },
  'If-Match': { name: 'If-Match', in: 'header', description: 'ETag(s) the current version must have (else 412)', schema: { type: 'string' } },
  'If-None-Match': { name: 'If-None-Match', in: 'header', description: 'Conditional read: 304 when the ETag matches', schema: { type: 'string' } },
  'If-Modified-Since': { name: 'If-Modified-Since', in: 'header', description: 'Conditional read: 304 when not modified since', schema: { type: 'string' } },
  'If-None-Exist': { name: 'If-None-Exist', in: 'header', description: 'Conditional create: search criteria of a resource that must not exist', schema: { type: 'string' } },
  Prefer: { name: 'Prefer', in: 'header', description: 'return=minimal|representation|OperationOutcome, handling=strict|lenient', schema: { type: 'string' } },
  'X-Break-The-Glass': { name: 'X-Break-The-Glass', in: 'header', description: 'Emergency access for this request: the reason (10-500 characters); audited and alerted', schema: { type: 'string' } },
  'Prefer-respond-async': {
    name: 'Prefer',
    in: 'header',
    required: true,
    description: 'respond-async (required: the request runs asynchronously); handling=lenient ignores unsupported parameters (Bulk Data IG)',
    schema: { enum: ['respond-async', 'respond-async, handling=lenient', 'respond-async, handling=strict'] },
  },
  job: { name: 'job', in: 'path', required: true, description: 'Export job id (the end of the kick-off\'s Content-Location)', schema: { type: 'string' } },
  file: { name: 'file', in: 'path', required: true, description: 'File name, as the manifest lists it', schema: { type: 'string' } },
};
type ControlName = keyof typeof CONTROL;
const refs = (...names: ControlName[]) => names.map(param);

const SEARCH_CONTROLS: ControlName[] = ['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_format', '_pretty'];
const HISTORY_CONTROLS: ControlName[] = ['_count', '_since', '_format', '_pretty'];

interface Context {
  type?: string;
  resource?: CapabilityStatementRestResource;
}

/** The search parameters of a type, as the CapabilityStatement lists them (each described once, in components). */
function ownSearchParameters(resource: CapabilityStatementRestResource | undefined) {
  return (resource?.searchParam ?? []).filter((p) => !(p.name in CONTROL));
}

const searchParameterKey = (type: string, name: string) => `${type}.${name}`;

function searchParameters(resource: CapabilityStatementRestResource | undefined): Array<Record<string, unknown>> {
  return ownSearchParameters(resource).map((p) => param(searchParameterKey(resource!.type, p.name)));
}

function searchParameterComponents(resources: CapabilityStatementRestResource[]): Record<string, unknown> {
  const components: Record<string, unknown> = {};
  for (const resource of resources) {
    for (const p of ownSearchParameters(resource)) {
      components[searchParameterKey(resource.type, p.name)] = { name: p.name, in: 'query', description: `${p.type} parameter${p.definition ? ` (${p.definition})` : ''}`, schema: { type: 'string' } };
    }
  }
  return components;
}

function searchForm(resource: CapabilityStatementRestResource): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const p of ownSearchParameters(resource)) properties[p.name] = { type: 'string' };
  for (const name of SEARCH_CONTROLS) properties[name] = { type: 'string' };
  return { type: 'object', properties };
}

/** Conditional interactions take search criteria in the query: the type's search parameters, listed once on its search. */
const CRITERIA = (type: string) => `The query string holds the search criteria: the parameters of GET /${type} (at least one; none is a 400).`;

const hasInteraction = (c: Context, code: string) => !!c.resource?.interaction?.some((i) => i.code === code);

/** What each route of the table does, by "METHOD url". Returns undefined when the type does not offer it. */
const DESCRIBE: Record<string, (c: Context) => OperationObject | undefined> = {
  'GET /metadata': () => ({
    summary: 'CapabilityStatement: what this server supports',
    operationId: 'capabilities',
    tags: ['System'],
    security: [],
    parameters: refs('_format', '_pretty'),
    responses: { '200': ok('The CapabilityStatement', ref('AnyResource')), ...ERRORS },
  }),
  'GET /': () => ({
    summary: 'Search across all types',
    operationId: 'search-system',
    tags: ['System'],
    parameters: [...refs('_type', '_id', '_lastUpdated'), ...refs(...SEARCH_CONTROLS)],
    responses: { '200': ok('A searchset Bundle', ref('Bundle')), ...ERRORS },
  }),
  'POST /': () => ({
    summary: 'Batch or transaction',
    operationId: 'batch-transaction',
    tags: ['System'],
    parameters: refs('Prefer', '_format'),
    requestBody: { required: true, content: fhirContent(ref('Bundle')) },
    responses: { '200': ok('A batch-response or transaction-response Bundle', ref('Bundle')), ...ERRORS },
  }),
  'GET /_history': () => ({
    summary: 'History of all resources',
    operationId: 'history-system',
    tags: ['System'],
    parameters: refs(...HISTORY_CONTROLS),
    responses: { '200': ok('A history Bundle', ref('Bundle')), ...ERRORS },
  }),
  'GET /:type': (c) =>
    hasInteraction(c, 'search-type')
      ? {
          summary: `Search ${c.type}`,
          operationId: `search-${c.type}`,
          parameters: [...refs('_id', '_lastUpdated'), ...searchParameters(c.resource), ...refs(...SEARCH_CONTROLS), param('X-Break-The-Glass')],
          responses: { '200': ok('A searchset Bundle', ref('Bundle')), ...ERRORS },
        }
      : undefined,
  'GET /:type/_search': (c) =>
    hasInteraction(c, 'search-type')
      ? {
          summary: `Search ${c.type} (same as GET [type])`,
          operationId: `search-get-${c.type}`,
          parameters: [...refs('_id', '_lastUpdated'), ...searchParameters(c.resource), ...refs(...SEARCH_CONTROLS), param('X-Break-The-Glass')],
          responses: { '200': ok('A searchset Bundle', ref('Bundle')), ...ERRORS },
        }
      : undefined,
  'POST /:type/_search': (c) =>
    hasInteraction(c, 'search-type')
      ? {
          summary: `Search ${c.type} with a form body`,
          operationId: `search-post-${c.type}`,
          parameters: [param('X-Break-The-Glass')],
          requestBody: { content: { 'application/x-www-form-urlencoded': { schema: ref(`${c.type}SearchForm`) } } },
          responses: { '200': ok('A searchset Bundle', ref('Bundle')), ...ERRORS },
        }
      : undefined,
  'POST /:type': (c) =>
    hasInteraction(c, 'create')
      ? {
          summary: `Create a ${c.type} (conditional with If-None-Exist)`,
          operationId: `create-${c.type}`,
          parameters: refs('If-None-Exist', 'Prefer', '_format'),
          requestBody: { required: true, content: fhirContent(ref(c.type!)) },
          responses: {
            '201': ok('Created', ref(c.type!), ['Location', 'ETag', 'Last-Modified']),
            '200': ok('If-None-Exist matched an existing resource', ref(c.type!), ['Location', 'ETag', 'Last-Modified']),
            ...ERRORS,
          },
        }
      : undefined,
  'PUT /:type': (c) =>
    c.resource?.conditionalUpdate
      ? {
          summary: `Conditional update of a ${c.type} (search criteria in the query)`,
          operationId: `conditional-update-${c.type}`,
          description: CRITERIA(c.type!),
          parameters: refs('If-Match', 'Prefer'),
          requestBody: { required: true, content: fhirContent(ref(c.type!)) },
          responses: { '200': ok('Updated', ref(c.type!), ['ETag', 'Last-Modified']), '201': ok('Created', ref(c.type!), ['Location', 'ETag', 'Last-Modified']), ...ERRORS },
        }
      : undefined,
  'PATCH /:type': (c) =>
    hasInteraction(c, 'patch')
      ? {
          summary: `Conditional patch of a ${c.type} (search criteria in the query)`,
          operationId: `conditional-patch-${c.type}`,
          description: CRITERIA(c.type!),
          parameters: refs('If-Match', 'Prefer'),
          requestBody: { required: true, content: { 'application/json-patch+json': { schema: ref('JsonPatch') } } },
          responses: { '200': ok('Patched', ref(c.type!), ['ETag', 'Last-Modified']), ...ERRORS },
        }
      : undefined,
  'DELETE /:type': (c) =>
    c.resource?.conditionalDelete && c.resource.conditionalDelete !== 'not-supported'
      ? {
          summary: `Conditional delete of a ${c.type} (search criteria in the query)`,
          operationId: `conditional-delete-${c.type}`,
          description: CRITERIA(c.type!),
          responses: { '200': ok('Deleted', ref('OperationOutcome')), '204': { description: 'Deleted, or nothing matched' }, ...ERRORS },
        }
      : undefined,
  'GET /:type/_history': (c) =>
    hasInteraction(c, 'history-type')
      ? {
          summary: `History of all ${c.type} resources`,
          operationId: `history-type-${c.type}`,
          parameters: refs(...HISTORY_CONTROLS),
          responses: { '200': ok('A history Bundle', ref('Bundle')), ...ERRORS },
        }
      : undefined,
  'GET /:type/:id': (c) =>
    hasInteraction(c, 'read')
      ? {
          summary: `Read a ${c.type}`,
          operationId: `read-${c.type}`,
          parameters: [...refs('id', 'If-None-Match', 'If-Modified-Since', '_summary', '_elements', '_format', '_pretty'), param('X-Break-The-Glass')],
          responses: { '200': ok('The current version', ref(c.type!), ['ETag', 'Last-Modified']), '304': { description: 'Not modified' }, ...ERRORS },
        }
      : undefined,
  'PUT /:type/:id': (c) =>
    hasInteraction(c, 'update')
      ? {
          summary: `Update (or create with this id) a ${c.type}`,
          operationId: `update-${c.type}`,
          parameters: refs('id', 'If-Match', 'Prefer', '_format'),
          requestBody: { required: true, content: fhirContent(ref(c.type!)) },
          responses: { '200': ok('Updated', ref(c.type!), ['ETag', 'Last-Modified']), '201': ok('Created', ref(c.type!), ['Location', 'ETag', 'Last-Modified']), ...ERRORS },
        }
      : undefined,
  'PATCH /:type/:id': (c) =>
    hasInteraction(c, 'patch')
      ? {
          summary: `Patch a ${c.type} (JSON Patch)`,
          operationId: `patch-${c.type}`,
          parameters: refs('id', 'If-Match', 'Prefer'),
          requestBody: { required: true, content: { 'application/json-patch+json': { schema: ref('JsonPatch') } } },
          responses: { '200': ok('Patched', ref(c.type!), ['ETag', 'Last-Modified']), ...ERRORS },
        }
      : undefined,
  'DELETE /:type/:id': (c) =>
    hasInteraction(c, 'delete')
      ? {
          summary: `Delete a ${c.type}`,
          operationId: `delete-${c.type}`,
          parameters: refs('id', 'If-Match'),
          responses: { '200': ok('Deleted', ref('OperationOutcome')), '204': { description: 'Deleted (or already gone)' }, ...ERRORS },
        }
      : undefined,
  'GET /:type/:id/_history': (c) =>
    hasInteraction(c, 'history-instance')
      ? {
          summary: `History of one ${c.type}`,
          operationId: `history-instance-${c.type}`,
          parameters: [...refs('id'), ...refs(...HISTORY_CONTROLS)],
          responses: { '200': ok('A history Bundle', ref('Bundle')), ...ERRORS },
        }
      : undefined,
  'GET /:type/:id/_history/:vid': (c) =>
    hasInteraction(c, 'vread')
      ? {
          summary: `Read one version of a ${c.type}`,
          operationId: `vread-${c.type}`,
          parameters: refs('id', 'vid', '_summary', '_elements', '_format', '_pretty'),
          responses: { '200': ok('That version', ref(c.type!), ['ETag', 'Last-Modified']), '304': { description: 'Not modified' }, ...ERRORS },
        }
      : undefined,
};

/** `/:type/:id` → `/Patient/{id}` */
function pathOf(url: string, type?: string, operation?: string): string {
  return url
    .replace(':type', type ?? '')
    .replace(':id', operation && !url.includes(':operation') ? `$${operation}` : '{id}')
    .replace(':operation', operation ? `$${operation}` : '')
    .replace(':vid', '{vid}');
}

/**
 * Links (OpenAPI 3.1 Link Objects) from a kick-off's 202 to its job's status and cancellation, and from
 * the manifest to a file, so a client generator or a stateful fuzzer can follow an export. The job id
 * is the end of Content-Location, the file name the end of the manifest's url: the `#regex:` suffix
 * (a schemathesis extension of runtime expressions; other tools show the expression as it is) cuts it out.
 */
const STATUS_LINKS = {
  status: { operationId: 'bulk-export-status', parameters: { job: '$response.header.Content-Location#regex:/bulk-status/([0-9a-f]+)$' } },
  cancel: { operationId: 'bulk-export-cancel', parameters: { job: '$response.header.Content-Location#regex:/bulk-status/([0-9a-f]+)$' } },
};
const FILE_LINKS = {
  file: { operationId: 'bulk-export-file', parameters: { job: '$request.path.job', file: '$response.body#/output/0/url#regex:/([^/]+)$' } },
};

function operationObject(operation: FhirOperation, level: OperationLevel, method: 'GET' | 'POST', type?: string, statusLinks = false): OperationObject {
  const where = level === 'system' ? '' : level === 'type' ? ` on ${type}` : ` on one ${type}`;
  // An asynchronous request (Bulk Data IG kick-off) answers 202 with an OperationOutcome and the status URL.
  const result = operation.asynchronous
    ? {
        '202': {
          ...ok('Accepted: poll the status URL in Content-Location (GET /bulk-status/{job})', ref('OperationOutcome'), ['Content-Location']),
          ...(statusLinks ? { links: STATUS_LINKS } : {}),
        },
      }
    : { '200': ok('The result (Parameters, a Bundle, an OperationOutcome or a resource)', ref('AnyResource')) };
  return {
    summary: `$${operation.name}${where}`,
    description: `OperationDefinition: ${operation.definition}`,
    operationId: `${operation.name}-${level}${type ? `-${type}` : ''}-${method.toLowerCase()}`,
    ...(type ? { tags: [type] } : { tags: ['System'] }),
    parameters: [...(level === 'instance' ? [param('id')] : []), param('_format'), ...(operation.asynchronous ? [param('Prefer-respond-async')] : [])],
    ...(method === 'POST' ? { requestBody: { content: fhirContent(ref('AnyResource')) } } : {}),
    responses: { ...result, ...ERRORS },
  };
}

/** `/bulk-status/:job` → `/bulk-status/{job}` */
const openApiPath = (fastifyUrl: string) => fastifyUrl.replace(/:(\w+)/g, '{$1}');

/**
 * The bulk export after its kick-off (Bulk Data IG 2.0.0, src/bulk/bulk-routes.ts): the status
 * (202 in progress, 200 the manifest, 500 the export failed), its cancellation, the output files.
 * Only the kick-off's caller sees a job; anyone else, like an unknown, expired or cancelled job, gets 404.
 */
function bulkPathItems(routes: { status: string; file: string }): Record<string, PathItem> {
  const outcome = (description: string) => ({ description, content: fhirResponseContent(ref('OperationOutcome')) });
  return {
    [openApiPath(routes.status)]: {
      get: {
        summary: 'Status of a bulk export (Bulk Data IG)',
        operationId: 'bulk-export-status',
        tags: ['System'],
        parameters: [param('job')],
        responses: {
          '200': {
            description: 'Complete: the manifest (output files, deleted files for _since, error files)',
            headers: { Expires: { $ref: '#/components/headers/Expires' } },
            content: { 'application/json': { schema: ref('BulkExportManifest') } },
            links: FILE_LINKS,
          },
          '202': {
            description: 'In progress: poll again after Retry-After',
            headers: { 'X-Progress': { $ref: '#/components/headers/X-Progress' }, 'Retry-After': { $ref: '#/components/headers/Retry-After' } },
          },
          '500': outcome('The export failed (the OperationOutcome says why)'),
          ...ERRORS,
        },
      },
      delete: {
        summary: 'Cancel a bulk export (its files are removed; its status then answers 404)',
        operationId: 'bulk-export-cancel',
        tags: ['System'],
        parameters: [param('job')],
        responses: { '202': { description: 'Cancelled' }, ...ERRORS },
      },
    },
    [openApiPath(routes.file)]: {
      get: {
        summary: 'An output file of a completed bulk export',
        operationId: 'bulk-export-file',
        tags: ['System'],
        parameters: [param('job'), param('file')],
        responses: {
          '200': { description: 'The file: one resource per line', content: { 'application/fhir+ndjson': { schema: { type: 'string' } } } },
          ...ERRORS,
        },
      },
    },
  };
}

/** The manifest of a completed export (Bulk Data IG, "Response - Complete Status"). */
function manifestSchema(): JsonSchema {
  const files = { type: 'array', items: { type: 'object', required: ['type', 'url'], properties: { type: { type: 'string' }, url: { type: 'string', format: 'uri' }, count: { type: 'integer', minimum: 0 } } } };
  return {
    type: 'object',
    required: ['transactionTime', 'request', 'requiresAccessToken', 'output', 'error'],
    properties: { transactionTime: { type: 'string' }, request: { type: 'string' }, requiresAccessToken: { type: 'boolean' }, output: files, deleted: files, error: files },
  };
}

/**
 * The websocket channel of subscriptions (R4 Subscription websocket channel; Subscriptions
 * Backport IG, websocket binding). OpenAPI describes HTTP exchanges only: the handshake
 * (101) and the OperationOutcome a plain GET gets (426); the messages are the IG's.
 */
function websocketPathItem(baseUrl: string): Record<string, unknown> {
  return {
    servers: [{ url: new URL(baseUrl).origin, description: 'The server itself (the websocket endpoint is outside the FHIR base)' }],
    get: {
      summary: 'Websocket channel of subscriptions',
      operationId: 'subscriptions-websocket',
      tags: ['Subscription'],
      description:
        'Open with a websocket handshake (ws:// or wss://, the URL the CapabilityStatement advertises). Then send ' +
        '`bind-with-token <token>` (token from Subscription/$get-ws-binding-token; Subscriptions Backport IG) or, on a ' +
        'socket opened with a bearer token, `bind <Subscription id>` (R4). The server answers `bound <id>` and sends ' +
        'notifications (`ping <id>` in R4, notification Bundles in the Backport IG). A plain GET without the handshake gets 426.',
      security: [],
      responses: {
        '101': { description: 'Switching Protocols: the websocket is open' },
        ...ERRORS,
      },
    },
  };
}

export function buildOpenApi(inputs: OpenApiInputs): Record<string, unknown> {
  const rest = inputs.capability.rest?.[0];
  const resources = rest?.resource ?? [];
  const paths: Record<string, PathItem> = {};
  const otherPaths: Record<string, Record<string, unknown>> = {};
  const add = (path: string, method: string, operation: OperationObject) => {
    paths[path] ??= {};
    if (paths[path][method]) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} described twice`);
    paths[path][method] = operation;
  };
  for (const route of inputs.routes) {
    const method = route.method.toString().toLowerCase();
    const key = `${route.method.toString()} ${route.url}`;
    const describe = DESCRIBE[key];
    if (!describe && !route.dispatches) throw new Error(`OpenAPI: route ${key} of the route table has no description (src/rest/openapi.ts)`);
    if (describe) {
      if (route.url.includes(':type')) {
        for (const resource of resources) {
          const operation = describe({ type: resource.type, resource });
          if (operation) add(pathOf(route.url, resource.type), method, { tags: [resource.type], ...operation });
        }
      } else {
        const operation = describe({});
        if (operation) add(pathOf(route.url), method, operation);
      }
    }
    if (route.dispatches) {
      const level = route.dispatches;
      const httpMethod = route.method === 'POST' ? 'POST' : 'GET';
      for (const operation of inputs.operations.filter((op) => op.levels.includes(level))) {
        if (httpMethod === 'GET' && operation.affectsState) continue;
        if (level === 'system') {
          add(`/$${operation.name}`, method, operationObject(operation, level, httpMethod, undefined, !!inputs.bulkRoutes));
          continue;
        }
        for (const resource of resources) {
          if (operation.resourceTypes && !operation.resourceTypes.includes(resource.type)) continue;
          add(pathOf(route.url, resource.type, operation.name), method, operationObject(operation, level, httpMethod, resource.type, !!inputs.bulkRoutes));
        }
      }
    }
  }
  if (inputs.bulkRoutes) Object.assign(paths, bulkPathItems(inputs.bulkRoutes));
  if (inputs.websocketPath) otherPaths[inputs.websocketPath] = websocketPathItem(inputs.baseUrl);
  const schemas: Record<string, JsonSchema> = { ...commonSchemas(), ...(inputs.bulkRoutes ? { BulkExportManifest: manifestSchema() } : {}) };
  for (const resource of resources) {
    schemas[resource.type] = resourceSchema(inputs.definitions, resource.type);
    if (resource.interaction?.some((i) => i.code === 'search-type')) schemas[`${resource.type}SearchForm`] = searchForm(resource);
  }
  const header = (description: string) => ({ description, schema: { type: 'string' } });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Relais FHIR R4 API',
      version: inputs.version,
      description:
        'FHIR R4 (4.0.1) REST API of Relais, derived from its route table and CapabilityStatement (GET /metadata). ' +
        'Every error is an OperationOutcome. Search parameter modifiers (name:exact, subject:Patient.name...) follow the FHIR search page.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: inputs.baseUrl, description: 'FHIR base' }],
    ...(inputs.authenticated ? { security: [{ bearer: [] }] } : {}),
    tags: [{ name: 'System', description: 'Whole-server interactions and operations' }, ...resources.map((r) => ({ name: r.type }))],
    paths: { ...paths, ...otherPaths },
    components: {
      schemas,
      parameters: { ...CONTROL, ...searchParameterComponents(resources) },
      headers: {
        Location: header('URL of the version written'),
        ETag: header('W/"<versionId>"'),
        'Last-Modified': header('meta.lastUpdated as an HTTP date'),
        'Content-Location': header('The status URL of an asynchronous request'),
        'X-Progress': header('Progress of a bulk export, in words'),
        'Retry-After': header('Seconds to wait before polling again'),
        Expires: header('When the export and its files are removed (HTTP date)'),
      },
      responses: {
        Error: { description: 'An error: OperationOutcome (400, 401, 403, 404, 405, 406, 409, 410, 412, 413, 414, 415, 422, 429)', content: fhirResponseContent(ref('OperationOutcome')) },
      },
      ...(inputs.authenticated
        ? { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'SMART on FHIR access token (see /.well-known/smart-configuration)' } } }
        : {}),
    },
  };
}
