/**
 * Bundle.entry.response of batch-response / transaction-response bundles (R4
 * http page): status (code and reason), location, etag, lastModified, and the
 * resource or an OperationOutcome as the client preferred (Prefer: return).
 */
import type { BundleEntry, Resource } from 'fhir/r4';
import { FhirError } from '../../errors.js';
import { informational, operationOutcome } from '../../fhir/operation-outcome.js';
import type { StoredVersion } from '../../store/resource-store.js';

export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function statusLine(status: number): string {
  return REASONS[status] ? `${status} ${REASONS[status]}` : String(status);
}

/** The response entry of a write, or of a conditional create that matched (`version` already stored). */
export function versionEntry(baseUrl: string, status: number, version: StoredVersion, prefer: ReturnPreference): BundleEntry<Resource> {
  const identity = `${version.resourceType}/${version.id}`;
  const entry: BundleEntry<Resource> = {
    fullUrl: `${baseUrl}/${identity}`,
    response: {
      status: statusLine(status),
      location: `${identity}/_history/${version.versionId}`,
      etag: `W/"${version.versionId}"`,
      lastModified: version.lastUpdated,
    },
  };
  if (prefer === 'representation' && version.resource) entry.resource = version.resource;
  if (prefer === 'OperationOutcome') entry.response!.outcome = informational(`${identity} is at version ${version.versionId}`);
  return entry;
}

export function deleteEntry(version: StoredVersion | undefined): BundleEntry<Resource> {
  return { response: { status: statusLine(204), ...(version ? { etag: `W/"${version.versionId}"`, lastModified: version.lastUpdated } : {}) } };
}

/** A failed batch entry: its own status and OperationOutcome. */
export function errorEntry(error: FhirError): BundleEntry<Resource> {
  return { response: { status: statusLine(error.status), outcome: operationOutcome(error.issues) } };
}

/** Prefixes an entry's failure with where it happened, for the transaction's single outcome. */
export function locateError(error: FhirError, index: number, method: string, url: string): FhirError {
  const located = new FhirError(
    error.status,
    error.issues.map((issue) => ({
      ...issue,
      diagnostics: `Bundle.entry[${index}] (${method} ${url}): ${issue.diagnostics}`,
      expression: issue.expression?.some((e) => e.startsWith('Bundle.')) ? issue.expression : [`Bundle.entry[${index}]`, ...(issue.expression ?? [])],
    })),
    error.headers,
  );
  return located;
}
