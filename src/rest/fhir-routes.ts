/**
 * The FHIR REST API (R4 http page) as a table of routes: thin adapters that
 * read HTTP (path, query, headers, body), call the engine, and write HTTP back.
 * The CapabilityStatement is derived from this same table, so it lists exactly
 * what is routed. Methods a path does not support answer 405 with Allow.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { buildCapabilityStatement, type CapabilityExtras, type ImplementedInteractions, type SystemInteraction, type TypeInteraction } from '../engine/capability-statement.js';
import type { FhirEngine } from '../engine/fhir-engine.js';
import type { SummaryMode } from '../engine/summary.js';
import { parseIfMatch, type IfMatch } from '../engine/version-expectation.js';
import { errors } from '../errors.js';
import { negotiate, XML_BODY_TYPES } from './content-negotiation.js';
import type { EngineSession } from '../engine/engine-session.js';
import type { OperationLevel, OperationRegistry } from '../operations/operation-registry.js';
import { preference, preferReturn, sendFhir, sendStoredJson, sendWriteResult, versionHeaders } from './responses.js';
import { storedJsonOf } from '../store/stored-json.js';

type Params = { type?: string; id?: string; vid?: string; operation?: string };
type Handler = (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => Promise<unknown>;

interface RouteSpec {
  method: HTTPMethods;
  url: string;
  interaction?: TypeInteraction | SystemInteraction | Array<TypeInteraction | SystemInteraction>;
  /** What metrics call a request of this route when `interaction` does not say it alone (relais_http_requests_total). */
  label?: string;
  /** `$operation` segments of this route run the operations registered at this level. */
  dispatches?: OperationLevel;
  /** Content types the body may have (undefined: no body expected). */
  accepts?: string[];
  handler: Handler;
}

/** A route of the table as the OpenAPI document describes it (src/rest/openapi.ts). */
export type RouteDescription = Omit<RouteSpec, 'handler'>;

/** What registerFhirRoutes() made: the route table and the CapabilityStatement derived from it. */
export interface FhirRoutes {
  routes: RouteDescription[];
  capabilityStatement(): import('fhir/r4').CapabilityStatement;
}

const RESOURCE_TYPES = ['application/fhir+json', 'application/json', ...XML_BODY_TYPES];
const PATCH_TYPES = ['application/json-patch+json'];
const FORM_TYPES = ['application/x-www-form-urlencoded'];

/** The query string as ordered name/value pairs (repeats kept: they mean AND). */
function queryPairs(request: FastifyRequest): Array<[string, string]> {
  const query = request.url.indexOf('?');
  // Most reads have none: no URLSearchParams made for nothing.
  return query < 0 ? [] : [...new URLSearchParams(request.url.slice(query + 1)).entries()];
}

function rawQuery(request: FastifyRequest): string {
  const query = request.url.indexOf('?');
  return query < 0 ? '' : request.url.slice(query + 1);
}

function controlValue(pairs: Array<[string, string]>, name: string): string | undefined {
  return pairs.find(([n]) => n === name)?.[1];
}

function summaryOf(pairs: Array<[string, string]>): SummaryMode | undefined {
  const value = controlValue(pairs, '_summary');
  if (value === undefined) return undefined;
  if (!['true', 'false', 'text', 'data', 'count'].includes(value)) throw errors.invalidParameter('_summary', '_summary must be true, false, text, data or count');
  return value as SummaryMode;
}

function elementsOf(pairs: Array<[string, string]>): string[] | undefined {
  const value = controlValue(pairs, '_elements');
  return value === undefined ? undefined : value.split(',').map((e) => e.trim()).filter(Boolean);
}

function contentTypeOf(request: FastifyRequest): string {
  return String(request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

function ifMatchOf(request: FastifyRequest): IfMatch | undefined {
  const header = request.headers['if-match'];
  // Repeated If-Match headers form one list (RFC 9110 §5.3).
  return parseIfMatch(Array.isArray(header) ? header.join(', ') : header);
}

function isStrict(request: FastifyRequest): boolean {
  return preference(request, 'handling') === 'strict';
}

function isOperation(segment: string | undefined): boolean {
  return segment !== undefined && segment.startsWith('$');
}

/** PUT, PATCH and DELETE reach the generic routes with a `$operation` last segment: operations take GET and POST only (405 before anything else). */
function refuseOperationMethod(request: FastifyRequest<{ Params: Params }>): void {
  if (request.method !== 'PUT' && request.method !== 'PATCH' && request.method !== 'DELETE') return;
  const { type, id, operation } = request.params;
  if (isOperation(operation ?? id ?? type)) throw errors.methodNotAllowed(request.method, ['GET', 'POST']);
}

/** `_pretty` is true or false (R4 http page); anything else is refused before any work is done. */
function checkPretty(pairs: Array<[string, string]>): void {
  let given = 0;
  for (const [name, value] of pairs) {
    if (name !== '_pretty') continue;
    if (++given > 1 || (value !== 'true' && value !== 'false')) throw errors.invalidParameter('_pretty', '_pretty must be given once, as true or false');
  }
}

export interface FhirRoutesOptions {
  engine: FhirEngine;
  /** The engine session a request acts in: its caller, from the verified token (see request-session.ts). */
  sessionOf: (request: FastifyRequest) => EngineSession;
  operations: OperationRegistry;
  baseUrl: string;
  software: { name: string; version: string };
  /** CapabilityStatement rest.security (SMART on FHIR), when authentication is on. */
  security?: import('fhir/r4').CapabilityStatementRestSecurity;
  /** Charges a request's extra work (a Bundle's entries beyond the first) to its caller's rate limit. */
  chargeWork?: (request: FastifyRequest, units: number) => Promise<void>;
  /** Parameters a request may carry in its query string (LIMIT_QUERY_PARAMETERS; form bodies are bounded by their parser). */
  maxQueryParameters?: number;
  /**
   * Answer OPTIONS on FHIR paths with 405 and Allow, like any other method a path
   * does not support (FHIR defines no OPTIONS interaction). False when CORS is on:
   * @fastify/cors then answers OPTIONS (preflight) itself.
   */
  refuseOptions?: boolean;
  /** Subscriptions' websocket URL and topics, advertised in the CapabilityStatement. */
  capabilityExtras?: CapabilityExtras;
}

export function registerFhirRoutes(app: FastifyInstance, options: FhirRoutesOptions): FhirRoutes {
  const { engine, baseUrl, sessionOf } = options;
  const locationOf = (type: string, id: string, vid: number) => `${baseUrl}/${type}/${id}/_history/${vid}`;

  /** Runs `$name` at the given level; `$` segments reach here from the generic routes. */
  async function runOperation(request: FastifyRequest, reply: FastifyReply, level: OperationLevel, segment: string, resourceType?: string, id?: string) {
    const method = request.method === 'POST' ? 'POST' : 'GET';
    request.fhirInteraction = 'operation';
    if (resourceType !== undefined) engine.facts.definitions.isResourceType(resourceType) || (() => { throw errors.unknownResourceType(resourceType); })();
    const operation = options.operations.resolve(segment.slice(1), level, resourceType, method);
    request.fhirInteraction = `$${operation.name}`;
    if (method === 'POST' && request.body !== undefined && !RESOURCE_TYPES.includes(contentTypeOf(request)) && !FORM_TYPES.includes(contentTypeOf(request))) {
      throw errors.unsupportedMediaType(contentTypeOf(request));
    }
    const preferences: Record<string, string> = {};
    for (const name of ['handling', 'return', 'respond-async']) {
      const value = preference(request, name);
      if (value !== undefined) preferences[name] = value;
    }
    // A FHIR body (JSON or XML) is a resource: a JSON array, null or scalar is refused here, never read as the form's pairs.
    const form = FORM_TYPES.includes(contentTypeOf(request));
    if (method === 'POST' && request.body !== undefined && !form && (typeof request.body !== 'object' || request.body === null || Array.isArray(request.body))) {
      throw errors.badRequest('The body of an operation is a resource (a Parameters resource, or the resource the operation takes), not a JSON array, null or a scalar');
    }
    const formPairs = form && Array.isArray(request.body) ? (request.body as Array<[string, string]>) : [];
    // The engine decides (the operation's declared rule), runs and audits it.
    const result = await sessionOf(request).operation(operation, {
      level,
      ...(resourceType ? { resourceType } : {}),
      ...(id ? { id } : {}),
      body: form ? undefined : request.body,
      query: [...queryPairs(request), ...formPairs],
      method,
      preferences,
    });
    for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
    return sendFhir(request, reply, result.status, result.resource);
  }

  /** `[type]/[id]/$name`, GET or POST: the third segment must name an operation (anything else there is no route). */
  const instanceOperation: Handler = async (request, reply) => {
    const { type, id, operation } = request.params;
    if (!isOperation(operation)) throw errors.routeNotFound(request.method, request.url.split('?')[0]);
    return runOperation(request, reply, 'instance', operation!, type, id);
  };

  const routes: RouteSpec[] = [
    {
      method: 'GET',
      url: '/metadata',
      label: 'capabilities',
      handler: async (request, reply) => sendFhir(request, reply, 200, capabilityStatement()),
    },
    {
      method: 'GET',
      url: '/',
      interaction: 'search-system',
      handler: async (request, reply) => sendFhir(request, reply, 200, await sessionOf(request).search(undefined, queryPairs(request), { strict: isStrict(request) })),
    },
    {
      method: 'POST',
      url: '/',
      interaction: ['transaction', 'batch'],
      accepts: RESOURCE_TYPES,
      handler: async (request, reply) => {
        const type = (request.body as { type?: unknown } | undefined)?.type;
        request.fhirInteraction = type === 'batch' ? 'batch' : 'transaction';
        const entries = (request.body as { entry?: unknown } | undefined)?.entry;
        // Each entry is an interaction: the Bundle itself was counted as one request, the others are charged now.
        if (Array.isArray(entries) && entries.length > 1) await options.chargeWork?.(request, entries.length - 1);
        const prefer = preferReturn(request);
        const bundle = type === 'batch' ? await sessionOf(request).batch(request.body, { prefer }) : await sessionOf(request).transaction(request.body, { prefer });
        return sendFhir(request, reply, 200, bundle);
      },
    },
    {
      method: 'GET',
      url: '/_history',
      interaction: 'history-system',
      handler: async (request, reply) => sendFhir(request, reply, 200, await sessionOf(request).history({}, queryPairs(request), isStrict(request))),
    },
    {
      method: 'GET',
      url: '/:type',
      interaction: 'search-type',
      dispatches: 'system',
      handler: async (request, reply) => {
        if (isOperation(request.params.type)) return runOperation(request, reply, 'system', request.params.type!);
        return sendFhir(request, reply, 200, await sessionOf(request).search(request.params.type, queryPairs(request), { strict: isStrict(request) }));
      },
    },
    {
      method: 'POST',
      url: '/:type/_search',
      label: 'search-type',
      accepts: FORM_TYPES,
      handler: async (request, reply) => {
        const body = (request.body as Array<[string, string]> | undefined) ?? [];
        return sendFhir(request, reply, 200, await sessionOf(request).search(request.params.type, [...queryPairs(request), ...body], { strict: isStrict(request) }));
      },
    },
    {
      method: 'GET',
      url: '/:type/_search',
      label: 'search-type',
      handler: async (request, reply) => sendFhir(request, reply, 200, await sessionOf(request).search(request.params.type, queryPairs(request), { strict: isStrict(request) })),
    },
    {
      method: 'POST',
      url: '/:type',
      interaction: 'create',
      dispatches: 'system',
      accepts: [...RESOURCE_TYPES, ...FORM_TYPES],
      handler: async (request, reply) => {
        if (isOperation(request.params.type)) return runOperation(request, reply, 'system', request.params.type!);
        if (FORM_TYPES.includes(contentTypeOf(request))) throw errors.unsupportedMediaType(contentTypeOf(request));
        const ifNoneExist = request.headers['if-none-exist'];
        const result = await sessionOf(request).create(request.params.type!, request.body, {
          ...(ifNoneExist !== undefined ? { ifNoneExist: String(ifNoneExist) } : {}),
        });
        const { version } = result;
        return sendWriteResult(request, reply, result.status, version, locationOf(version.resourceType, version.id, version.versionId));
      },
    },
    {
      method: 'PUT',
      url: '/:type',
      label: 'conditional-update',
      accepts: RESOURCE_TYPES,
      handler: async (request, reply) => {
        const query = rawQuery(request);
        if (!query) throw errors.conditionalNeedsCriteria('update');
        const result = await sessionOf(request).conditionalUpdate(request.params.type!, query, request.body, { ifMatch: ifMatchOf(request) });
        const { version } = result;
        return sendWriteResult(request, reply, result.status, version, result.status === 201 ? locationOf(version.resourceType, version.id, version.versionId) : undefined, locationOf(version.resourceType, version.id, version.versionId));
      },
    },
    {
      method: 'PATCH',
      url: '/:type',
      label: 'conditional-patch',
      accepts: PATCH_TYPES,
      handler: async (request, reply) => {
        const query = rawQuery(request);
        if (!query) throw errors.conditionalNeedsCriteria('patch');
        const result = await sessionOf(request).conditionalPatch(request.params.type!, query, request.body, { ifMatch: ifMatchOf(request) });
        return sendWriteResult(request, reply, result.status, result.version, undefined, locationOf(result.version.resourceType, result.version.id, result.version.versionId));
      },
    },
    {
      method: 'DELETE',
      url: '/:type',
      label: 'conditional-delete',
      handler: async (request, reply) => {
        const query = rawQuery(request);
        if (!query) throw errors.conditionalNeedsCriteria('delete');
        const result = await sessionOf(request).conditionalDelete(request.params.type!, query);
        if (result.version) reply.header('ETag', `W/"${result.version.versionId}"`);
        return sendFhir(request, reply, result.status, undefined);
      },
    },
    {
      method: 'GET',
      url: '/:type/_history',
      interaction: 'history-type',
      handler: async (request, reply) =>
        sendFhir(request, reply, 200, await sessionOf(request).history({ resourceType: request.params.type }, queryPairs(request), isStrict(request))),
    },
    {
      method: 'GET',
      url: '/:type/:id',
      interaction: 'read',
      dispatches: 'type',
      handler: async (request, reply) => {
        const { type, id } = request.params;
        if (isOperation(id)) return runOperation(request, reply, 'type', id!, type);
        const version = await sessionOf(request).read(type!, id!);
        return sendVersion(request, reply, version);
      },
    },
    {
      method: 'PUT',
      url: '/:type/:id',
      interaction: 'update',
      accepts: RESOURCE_TYPES,
      handler: async (request, reply) => {
        const { type, id } = request.params;
        const result = await sessionOf(request).update(type!, id!, request.body, { ifMatch: ifMatchOf(request) });
        const { version } = result;
        return sendWriteResult(request, reply, result.status, version, result.status === 201 ? locationOf(type!, id!, version.versionId) : undefined, locationOf(type!, id!, version.versionId));
      },
    },
    {
      method: 'PATCH',
      url: '/:type/:id',
      interaction: 'patch',
      accepts: PATCH_TYPES,
      handler: async (request, reply) => {
        const { type, id } = request.params;
        const result = await sessionOf(request).patch(type!, id!, request.body, { ifMatch: ifMatchOf(request) });
        return sendWriteResult(request, reply, result.status, result.version, undefined, locationOf(result.version.resourceType, result.version.id, result.version.versionId));
      },
    },
    {
      method: 'DELETE',
      url: '/:type/:id',
      interaction: 'delete',
      handler: async (request, reply) => {
        const { type, id } = request.params;
        const result = await sessionOf(request).delete(type!, id!, { ifMatch: ifMatchOf(request) });
        if (result.version) reply.header('ETag', `W/"${result.version.versionId}"`);
        return sendFhir(request, reply, result.status, undefined);
      },
    },
    {
      method: 'POST',
      url: '/:type/:id',
      label: 'operation',
      dispatches: 'type',
      accepts: [...RESOURCE_TYPES, ...FORM_TYPES],
      handler: async (request, reply) => {
        const { type, id } = request.params;
        if (!isOperation(id)) throw errors.methodNotAllowed('POST', ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']);
        return runOperation(request, reply, 'type', id!, type);
      },
    },
    {
      method: 'GET',
      url: '/:type/:id/:operation',
      label: 'operation',
      dispatches: 'instance',
      handler: instanceOperation,
    },
    {
      method: 'POST',
      url: '/:type/:id/:operation',
      label: 'operation',
      dispatches: 'instance',
      accepts: [...RESOURCE_TYPES, ...FORM_TYPES],
      handler: instanceOperation,
    },
    {
      method: 'GET',
      url: '/:type/:id/_history',
      interaction: 'history-instance',
      handler: async (request, reply) =>
        sendFhir(request, reply, 200, await sessionOf(request).history({ resourceType: request.params.type, id: request.params.id }, queryPairs(request), isStrict(request))),
    },
    {
      method: 'GET',
      url: '/:type/:id/_history/:vid',
      interaction: 'vread',
      handler: async (request, reply) => {
        const { type, id, vid } = request.params;
        return sendVersion(request, reply, await sessionOf(request).vread(type!, id!, vid!));
      },
    },
  ];

  /** read/vread with conditional read (If-None-Match, If-Modified-Since → 304), _summary, _elements. */
  async function sendVersion(request: FastifyRequest, reply: FastifyReply, version: import('../store/resource-store.js').StoredVersion) {
    // (An unproducible format was refused with 406 by the route wrapper below, before anything was read.)
    const pairs = queryPairs(request);
    versionHeaders(reply, version);
    const ifNoneMatch = request.headers['if-none-match'];
    if (ifNoneMatch && String(ifNoneMatch).split(',').some((tag) => tag.trim().replace(/^W\//, '') === `"${version.versionId}"` || tag.trim() === '*')) {
      return reply.code(304).send();
    }
    const ifModifiedSince = request.headers['if-modified-since'];
    if (ifModifiedSince && !ifNoneMatch) {
      const since = Date.parse(String(ifModifiedSince));
      // HTTP dates have second precision: compare at that precision.
      if (!Number.isNaN(since) && Math.floor(Date.parse(version.lastUpdated) / 1000) <= Math.floor(since / 1000)) return reply.code(304).send();
    }
    const summary = summaryOf(pairs);
    const elements = elementsOf(pairs);
    if (summary && elements) throw errors.badRequest('_summary and _elements cannot be used together', ['_elements']);
    if (summary === 'count') throw errors.invalidParameter('_summary', '_summary=count applies to searches only');
    // The body as stored, unchanged (no summary, no elements: shape() would give it back as it is): its stored
    // text, when its store kept it, is what serialising it gives, sent without parsing it (src/store/stored-json.ts).
    const unchanged = (summary === undefined || summary === 'false') && (elements === undefined || elements.length === 0);
    const stored = unchanged ? storedJsonOf(version) : undefined;
    if (stored !== undefined && sendStoredJson(request, reply, 200, stored)) return reply;
    return sendFhir(request, reply, 200, engine.shape(version.resource!, summary, elements));
  }

  const implemented: ImplementedInteractions = {
    type: new Set(routes.flatMap((r) => r.interaction ?? []).filter((i): i is TypeInteraction => !!i && !['transaction', 'batch', 'search-system', 'history-system'].includes(i))),
    system: new Set(routes.flatMap((r) => r.interaction ?? []).filter((i): i is SystemInteraction => !!i && ['transaction', 'batch', 'search-system', 'history-system'].includes(i))),
    conditionalCreate: true,
    conditionalUpdate: routes.some((r) => r.method === 'PUT' && r.url === '/:type'),
    conditionalPatch: routes.some((r) => r.method === 'PATCH' && r.url === '/:type'),
    conditionalDelete: routes.some((r) => r.method === 'DELETE' && r.url === '/:type'),
    conditionalRead: true,
  };
  let capability: ReturnType<typeof buildCapabilityStatement> | undefined;
  const capabilityStatement = () => (capability ??= buildCapabilityStatement(engine.facts, implemented, options.software, options.operations.all(), options.security, options.capabilityExtras));

  app.register(
    async (fhir) => {
      const methodsByUrl = new Map<string, HTTPMethods[]>();
      for (const route of routes) {
        methodsByUrl.set(route.url, [...(methodsByUrl.get(route.url) ?? []), route.method]);
        const interaction = route.label ?? (typeof route.interaction === 'string' ? route.interaction : 'other');
        fhir.route({
          method: route.method,
          url: route.url,
          // Not async: it returns the route handler's promise (one promise a request, not two); what it throws
          // before is sent as the error, as a rejection would be (Fastify catches a handler's throw).
          handler: (request, reply) => {
            request.fhirInteraction = interaction;
            refuseOperationMethod(request as FastifyRequest<{ Params: Params }>);
            const hasBody = request.headers['content-type'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
            if (route.accepts && hasBody && !route.accepts.includes(contentTypeOf(request))) {
              throw errors.unsupportedMediaType(contentTypeOf(request) || '(none)');
            }
            // Refuse an unproducible format (406) before doing anything: a write must not
            // be committed and then reported as failed.
            const pairs = queryPairs(request);
            negotiate(request.headers.accept, controlValue(pairs, '_format'));
            const formFields = Array.isArray(request.body) ? request.body.length : 0;
            if (options.maxQueryParameters !== undefined && pairs.length + formFields > options.maxQueryParameters) {
              throw errors.overLimit(`a request takes at most ${options.maxQueryParameters} parameters (LIMIT_QUERY_PARAMETERS)`);
            }
            checkPretty(pairs);
            return route.handler(request as FastifyRequest<{ Params: Params }>, reply);
          },
        });
      }
      // TRACE and QUERY too: a method the path does not support is a 405 with Allow (RFC 9110 §15.5.6), not a 404.
      const all: HTTPMethods[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'QUERY', ...(options.refuseOptions ? (['OPTIONS'] as HTTPMethods[]) : [])];
      for (const [url, methods] of methodsByUrl) {
        const allowed = methods.includes('GET') ? [...methods, 'HEAD' as HTTPMethods] : methods;
        const others = all.filter((m) => !methods.includes(m));
        if (others.length === 0) continue;
        const refuse = async (request: FastifyRequest) => {
          request.fhirInteraction = 'method-not-allowed';
          throw errors.methodNotAllowed(request.method, allowed);
        };
        // Refused on arrival, before any body is read (a QUERY without Content-Type is still a 405).
        fhir.route({ method: others, url, onRequest: refuse, handler: refuse });
      }
    },
    { prefix: '/fhir' },
  );
  return { routes: routes.map(({ handler: _handler, ...description }) => description), capabilityStatement };
}
