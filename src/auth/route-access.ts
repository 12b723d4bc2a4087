/**
 * Which FHIR interaction an HTTP request is, read from the matched route and
 * its parameters, so that the access gate asks the policy the same question
 * the engine would (see src/access/access-policy.ts).
 */
import type { FastifyRequest } from 'fastify';
import type { PolicyInteraction } from '../access/access-policy.js';
import type { OperationRegistry } from '../operations/operation-registry.js';

export interface RouteAccess {
  interaction: PolicyInteraction | 'transaction-or-batch' | 'capabilities' | 'public';
  /** The types it touches; for a system search, the _type list (empty = every type). */
  resourceTypes: string[];
  operation?: { name: string; affectsState: boolean; level: 'system' | 'type' | 'instance' };
}

const isOp = (segment: string | undefined) => segment !== undefined && segment.startsWith('$');

function operationAccess(
  operations: OperationRegistry,
  name: string,
  level: 'system' | 'type' | 'instance',
  resourceType: string | undefined,
  method: string,
): RouteAccess {
  let affectsState = true; // unknown operations are treated as the most sensitive kind; the route answers 404 after the gate
  try {
    affectsState = operations.resolve(name, level, resourceType, method === 'POST' ? 'POST' : 'GET').affectsState;
  } catch {
    // resolved again by the route, which answers the right 4xx
  }
  return { interaction: 'operation', resourceTypes: resourceType ? [resourceType] : [], operation: { name, affectsState, level } };
}

export function routeAccess(request: FastifyRequest, operations: OperationRegistry): RouteAccess {
  const route = request.routeOptions.url ?? '';
  const params = (request.params ?? {}) as { type?: string; id?: string; vid?: string; operation?: string };
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const { type, id, operation } = params;
  if (!route.startsWith('/fhir')) return { interaction: 'public', resourceTypes: [] };
  const path = route.slice('/fhir'.length) || '/';
  if (path === '/metadata' || path.startsWith('/.well-known/')) return { interaction: 'public', resourceTypes: [] };
  if (path === '/' && method === 'POST') return { interaction: 'transaction-or-batch', resourceTypes: [] };
  if (path === '/' || path === '/_history') {
    const types = new URLSearchParams(request.url.split('?')[1] ?? '')
      .getAll('_type')
      .flatMap((v) => v.split(','))
      .map((t) => t.trim())
      .filter(Boolean);
    return { interaction: path === '/' ? 'search-system' : 'history-system', resourceTypes: types };
  }
  if (path === '/:type') {
    if (isOp(type)) return operationAccess(operations, type!.slice(1), 'system', undefined, method);
    const interaction = method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : 'search-type';
    return { interaction, resourceTypes: [type!] };
  }
  if (path === '/:type/_search') return { interaction: 'search-type', resourceTypes: [type!] };
  if (path === '/:type/_history') return { interaction: 'history-type', resourceTypes: [type!] };
  if (path === '/:type/:id') {
    if (isOp(id)) return operationAccess(operations, id!.slice(1), 'type', type, method);
    const interaction = method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : 'read';
    return { interaction, resourceTypes: [type!] };
  }
  if (path === '/:type/:id/:operation' && isOp(operation)) return operationAccess(operations, operation!.slice(1), 'instance', type, method);
  if (path === '/:type/:id/_history') return { interaction: 'history-instance', resourceTypes: [type!] };
  if (path === '/:type/:id/_history/:vid') return { interaction: 'vread', resourceTypes: [type!] };
  // Any other route under /fhir: treat as the most sensitive kind of request.
  return { interaction: 'transaction-or-batch', resourceTypes: [] };
}
