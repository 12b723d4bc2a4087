/**
 * Every error a client can see, catalogued in one place (as Fastify does with
 * its own errors). The engine throws these; the HTTP layer turns them into an
 * OperationOutcome with the status the FHIR R4 http page prescribes.
 */
import type { OperationOutcomeIssue } from 'fhir/r4';

export type IssueSeverity = OperationOutcomeIssue['severity'];
export type IssueCode = OperationOutcomeIssue['code'];

export interface Issue {
  severity: IssueSeverity;
  code: IssueCode;
  diagnostics: string;
  /** FHIRPath expressions of the offending elements or parameters. */
  expression?: string[];
}

export class FhirError extends Error {
  readonly status: number;
  readonly issues: Issue[];
  /** Extra response headers (e.g. Allow on 405). */
  readonly headers: Record<string, string>;

  constructor(status: number, issues: Issue[], headers: Record<string, string> = {}) {
    super(issues.map((i) => i.diagnostics).join('; '));
    this.name = 'FhirError';
    this.status = status;
    this.issues = issues;
    this.headers = headers;
  }
}

function single(status: number, code: IssueCode, diagnostics: string, expression?: string[]): FhirError {
  return new FhirError(status, [{ severity: 'error', code, diagnostics, ...(expression ? { expression } : {}) }]);
}

export const errors = {
  malformedJson: (detail: string) => single(400, 'structure', `The body is not valid JSON: ${detail}`),
  invalidResource: (issues: Issue[]) => new FhirError(400, issues),
  nestingTooDeep: (limit: number) => single(400, 'too-costly', `The body nests arrays/objects deeper than ${limit} levels`),
  malformedXml: (detail: string) => single(400, 'structure', `The body is not valid FHIR XML: ${detail}`),
  /** R4 XML page: parsers should ignore entities; a DTD is how XXE and entity-expansion attacks arrive. */
  xmlDtdRefused: () => single(400, 'security', 'XML with a DOCTYPE or entity declarations is refused (no DTDs in FHIR XML)'),
  /** Structurally valid but breaks a profile's rules (R4 http: 422 Unprocessable Entity). */
  profileValidationFailed: (issues: Issue[]) => new FhirError(422, issues),
  /** A practitioner naming someone else as the author of what they write (issue 11: authorship is the caller's). */
  authorNotCaller: (element: string, named: string) =>
    single(
      422,
      'business-rule',
      `${element} names ${named}, who is not you: a professional writes as themselves (their Practitioner, one of their PractitionerRoles, or their organisation)`,
      [element],
    ),
  /** An operation registered without an access rule for the level it was called at: refused, never run. */
  operationWithoutRule: (name: string, level: string) =>
    single(403, 'forbidden', `$${name} declares no access rule at the ${level} level, so it is refused`),
  badRequest: (diagnostics: string, expression?: string[]) => single(400, 'invalid', diagnostics, expression),
  /** A Subscription the server cannot honour (R4 Subscription, Backport IG "Accepting Subscription Requests"): nothing is stored. */
  subscriptionRefused: (element: string, diagnostics: string) => single(422, 'business-rule', diagnostics, [element]),
  /** $events asked for events the server no longer keeps (trimmed) or never numbered. */
  subscriptionEventsUnavailable: (diagnostics: string) => single(400, 'invalid', diagnostics, ['eventsSinceNumber']),

  invalidParameter: (name: string, diagnostics: string) => single(400, 'invalid', diagnostics, [name]),
  unknownParameter: (name: string) =>
    single(400, 'not-supported', `Search parameter '${name}' is not supported (Prefer: handling=strict)`, [name]),
  unknownResourceType: (type: string) => single(404, 'not-supported', `Unknown resource type '${type}'`),
  wrongResourceType: (expected: string, got: unknown) =>
    single(400, 'invalid', `The body's resourceType '${String(got)}' does not match the URL's '${expected}'`, ['resourceType']),
  idMismatch: (urlId: string, bodyId: unknown) =>
    single(400, 'invalid', `The body's id '${String(bodyId)}' does not match the id in the URL '${urlId}'`, ['id']),
  idRequiredForUpdate: () => single(400, 'required', 'The resource in an update must carry an id equal to the one in the URL', ['id']),
  invalidId: (id: string) => single(400, 'invalid', `'${id}' is not a valid FHIR id ([A-Za-z0-9\\-\\.]{1,64})`),
  notFound: (type: string, id: string) => single(404, 'not-found', `${type}/${id} is not known`),
  versionNotFound: (type: string, id: string, vid: string) => single(404, 'not-found', `${type}/${id}/_history/${vid} is not known`),
  gone: (type: string, id: string, versionId: string) => {
    const error = single(410, 'deleted', `${type}/${id} was deleted (version ${versionId})`);
    error.headers.ETag = `W/"${versionId}"`;
    return error;
  },
  /** A plain HTTP request to a websocket endpoint (RFC 9110 §15.5.22: 426 names the protocol to upgrade to). */
  upgradeRequired: (path: string) =>
    new FhirError(426, [{ severity: 'error', code: 'not-supported', diagnostics: `${path} is a websocket endpoint: open it with an Upgrade: websocket handshake` }], {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
    }),
  routeNotFound: (method: string, url: string) => single(404, 'not-found', `No FHIR interaction at ${method} ${url}`),
  methodNotAllowed: (method: string, allowed: string[]) =>
    new FhirError(405, [{ severity: 'error', code: 'not-supported', diagnostics: `${method} is not allowed here; allowed: ${allowed.join(', ')}` }], {
      Allow: allowed.join(', '),
    }),
  /**
   * R4 http, update: "405 Method Not allowed - the resource did not exist prior to the update, and the
   * server does not allow client defined ids". Callers with per-patient or own-submission access get
   * this for every id they cannot see, whether or not it exists (so the answer reveals nothing);
   * `withAllow` is false when the refused PUT is an entry of a Bundle (Allow would describe POST [base]).
   */
  clientAssignedIdRefused: (type: string, id: string, withAllow = true) =>
    new FhirError(
      405,
      [
        {
          severity: 'error',
          code: 'not-supported',
          diagnostics: `PUT ${type}/${id}: your access does not include creating resources with an id you choose; update only what you can read, and create with POST ${type}`,
        },
      ],
      withAllow ? { Allow: 'GET, HEAD' } : {},
    ),
  notAcceptable: (accept: string) =>
    single(406, 'not-supported', `Cannot produce '${accept}'; this server speaks FHIR JSON (application/fhir+json, application/json) and FHIR XML (application/fhir+xml, application/xml)`),
  unsupportedMediaType: (contentType: string) =>
    single(415, 'not-supported', `Unsupported Content-Type '${contentType}'; send application/fhir+json or application/fhir+xml (PATCH: application/json-patch+json only, XML Patch is not supported)`),
  unsupportedContentEncoding: (encoding: string) =>
    single(415, 'not-supported', `Unsupported Content-Encoding '${encoding}'; send the body uncompressed or as gzip, deflate or br`),
  bodyTooLarge: (limit: number) => single(413, 'too-costly', `The body exceeds the limit of ${limit} bytes`),
  versionConflict: (type: string, id: string, expected: string, actual: string | undefined) =>
    single(
      412,
      'conflict',
      `Version conflict on ${type}/${id}: If-Match expected version ${expected}, current is ${actual ?? 'none'}`,
    ),
  concurrentUpdateConflict: (type: string, id: string) =>
    single(409, 'conflict', `${type}/${id} was changed by another request at the same time; read it again and retry`),
  multipleMatches: (interaction: string, count: number) =>
    single(412, 'multiple-matches', `The ${interaction} criteria match ${count} resources; they must match at most one`),
  conditionalNeedsCriteria: (interaction: string) =>
    single(400, 'invalid', `A conditional ${interaction} needs search criteria in the URL`),
  invalidIfMatch: (value: string) => single(400, 'invalid', `If-Match '${value}' is not an ETag such as W/"3"`),
  invalidPatch: (diagnostics: string) => single(400, 'invalid', `Invalid JSON Patch: ${diagnostics}`),
  patchFailed: (diagnostics: string) => single(422, 'processing', `The JSON Patch could not be applied: ${diagnostics}`),
  patchedResourceInvalid: (issues: Issue[]) => new FhirError(422, issues),
  patchChangedIdentity: () => single(422, 'processing', 'A patch may not change the resourceType or id of a resource'),
  unknownOperation: (name: string, level: string, resourceType?: string) =>
    single(404, 'not-supported', `Operation $${name} is not supported at ${level} level${resourceType ? ` on ${resourceType}` : ''}`),
  notSupported: (diagnostics: string) => single(400, 'not-supported', diagnostics),
  searchTooCostly: (diagnostics: string) => single(400, 'too-costly', diagnostics),
  /** A request beyond one of the configured cost bounds (LIMIT_*): refused before any work is done. */
  overLimit: (diagnostics: string, expression?: string[]) => single(400, 'too-costly', diagnostics, expression),
  /** A :in / :not-in / :below / :above value the local terminology cannot resolve (unknown, not expandable here, too many codes). */
  searchTerminology: (name: string, code: 'not-found' | 'not-supported' | 'too-costly', diagnostics: string) => single(400, code, diagnostics, [name]),
  searchExpired: () =>
    single(410, 'not-found', 'This page belongs to a search result set that has expired (or this server restarted); run the search again'),
  // --- batch / transaction (R4 http page, "batch/transaction") ---
  invalidBundle: (diagnostics: string, expression?: string[]) => single(400, 'invalid', diagnostics, expression),
  unresolvedInternalReference: (reference: string, entry: number) =>
    single(400, 'not-found', `Reference '${reference}' names no entry's fullUrl in this Bundle`, [`Bundle.entry[${entry}].resource`]),
  batchInterdependency: (reference: string) =>
    single(400, 'invalid', `Batch entries are independent and may not reference another entry ('${reference}'); send a transaction instead`),
  conditionalReferenceUnresolved: (reference: string, count: number) =>
    single(
      412,
      count === 0 ? 'not-found' : 'multiple-matches',
      `Conditional reference '${reference}' matches ${count === 0 ? 'no resource' : 'several resources'}; it must match exactly one`,
    ),
  patchEntryNotBinary: () =>
    single(400, 'not-supported', 'A PATCH entry must carry a Binary with contentType application/json-patch+json and the patch in data (base64)'),
  transactionIdentityOverlap: (identity: string) =>
    single(400, 'invalid', `${identity} appears more than once among the transaction's writes; a resource may appear only once`),
  transactionNeedsAtomicStore: (store: string) =>
    single(400, 'not-supported', `The ${store} store of this deployment cannot apply several writes atomically (no multi-document transactions); send the entries one by one or as a batch`),
  unsupportedEntryMethod: (method: unknown) => single(400, 'not-supported', `Bundle.entry.request.method '${String(method)}' is not one of GET, HEAD, POST, PUT, PATCH, DELETE`),
  operationInBundle: (url: string) => single(400, 'not-supported', `Operations are not supported inside a batch or transaction ('${url}')`),
  // --- coordination operations ($match, $find-professionals) ---
  matchNeedsPatient: () => single(400, 'required', "Patient/$match needs a Parameters body with a 'resource' parameter holding a Patient", ['Parameters.parameter']),
  ownNurseFirst: (nurse: string) =>
    single(
      422,
      'business-rule',
      `The patient has a nurse of their own (${nurse}) who has not declined: the patient's own nurse comes first; $find-professionals applies when there is none or they declined`,
    ),
  homeNotGeolocated: () =>
    single(422, 'business-rule', "The patient's home address has no geolocation (Address geolocation extension): distances cannot be computed"),
  // --- coordination workflows (issue 14) ---
  /** A professional's answer to a coordination request that lacks what the team needs to act on it. */
  answerIncomplete: (element: string, diagnostics: string) => single(422, 'business-rule', diagnostics, [element]),
  /** A QuestionnaireResponse that does not answer its Questionnaire as it asks (linkIds, required items, types, options, enableWhen). */
  questionnaireAnswersInvalid: (issues: Issue[]) => new FhirError(422, issues),
  /** $mark-read on a message that is not addressed to the caller (nor to a role, organisation or team of theirs). */
  notAddressedToCaller: () => single(422, 'business-rule', 'This message is not addressed to you, your organisation or a care team you belong to: there is nothing for you to acknowledge'),
  storeUnavailable: () => single(503, 'transient', 'The store is not ready; retry shortly'),
  /** The server cannot serve now (shutting down, store not available): 503 with Retry-After, never a 500. */
  serviceUnavailable: (reason: string, retryAfterSeconds: number) =>
    new FhirError(503, [{ severity: 'error', code: 'transient', diagnostics: `${reason}; retry in ${retryAfterSeconds} s` }], { 'Retry-After': String(retryAfterSeconds) }),
  /**
   * The embedded store cannot make writes durable right now (disk full, folder not writable, I/O
   * error, no file descriptor left): nothing was written, reads still work, and the store retries
   * by itself (RFC 9110 §15.6.4: 503 with Retry-After). `cause` is an errno name, never data.
   */
  storeCannotWrite: (cause: string, retryAfterSeconds: number) => {
    const error = single(503, 'transient', `The store cannot write at the moment (${cause}); nothing was written. Reads still work; retry in ${retryAfterSeconds} s`);
    error.headers['Retry-After'] = String(retryAfterSeconds);
    return error;
  },
  internal: () => single(500, 'exception', 'Internal server error'),
  /** /metrics behind METRICS_TOKEN. */
  metricsTokenRequired: () => {
    const error = single(401, 'login', 'The metrics need the metrics token (Authorization: Bearer <METRICS_TOKEN>)');
    error.headers['WWW-Authenticate'] = 'Bearer realm="relais-metrics"';
    return error;
  },
  // --- authentication and access control (issue 6) ---
  /** 401 with the RFC 6750 challenge; `reason` tells what was wrong with the token, never its content. */
  unauthenticated: (reason: string, realm: string) => {
    const error = single(401, 'login', `Authentication required: ${reason}`);
    error.headers['WWW-Authenticate'] = `Bearer realm="${realm}", error="invalid_token", error_description="${reason.replace(/"/g, "'")}"`;
    return error;
  },
  missingToken: (realm: string) => {
    const error = single(401, 'login', 'Authentication required: send a bearer token (Authorization: Bearer ...)');
    error.headers['WWW-Authenticate'] = `Bearer realm="${realm}"`;
    return error;
  },
  /** 403: the rule is public (role or scope), so saying so reveals no resource. */
  forbidden: (diagnostics: string, insufficientScope = false) => {
    const error = single(403, 'forbidden', diagnostics);
    if (insufficientScope) error.headers['WWW-Authenticate'] = 'Bearer error="insufficient_scope"';
    return error;
  },
  breakTheGlassReasonRequired: () => single(400, 'required', 'Break-the-glass needs a stated reason (X-Break-The-Glass: <reason>, 10 to 500 characters)'),
  uriTooLong: (limit: number) => single(414, 'too-costly', `The request URL exceeds the limit of ${limit} bytes; use POST [type]/_search for long searches`),
  tooManyRequests: (retryAfterSeconds: number) => {
    const error = single(429, 'throttled', `Too many requests; retry in ${retryAfterSeconds} s`);
    error.headers['Retry-After'] = String(retryAfterSeconds);
    return error;
  },
  // --- bulk data (issue 13: $export, Patient/$everything) ---
  notSupportedParameter: (name: string, diagnostics: string) => single(400, 'not-supported', diagnostics, [name]),
  exportNeedsRespondAsync: () =>
    single(400, 'invalid', '$export runs asynchronously only: send Prefer: respond-async (Bulk Data IG, kick-off request)'),
  exportTypeOutsideCompartment: (type: string) =>
    single(400, 'invalid', `_type names ${type}, which is not in the Patient compartment: a Patient- or Group-level export covers the compartment types only (export ${type} at system level)`, ['_type']),
  exportGroupUnknown: (id: string) => single(400, 'not-found', `Group/${id} is not known: a Group export needs an existing Group you may read`),
  exportPatientsUnknown: (ids: readonly string[], inGroup: boolean) =>
    single(
      400,
      'not-found',
      `patient names ${ids.map((id) => `Patient/${id}`).join(', ')}, ${inGroup ? 'not members of this Group (or not patients you may read)' : 'not patients you may read'}`,
      ['patient'],
    ),
  /** Bulk Data IG, kick-off: "respond with a 429 Too Many Requests status and a Retry-After header". */
  tooManyExports: (limit: number, retryAfterSeconds: number) => {
    const error = single(429, 'throttled', `You already have ${limit} export${limit > 1 ? 's' : ''} in progress (the limit); wait for one to finish or cancel it (DELETE its status URL)`);
    error.headers['Retry-After'] = String(retryAfterSeconds);
    return error;
  },
  /** A status or file URL that is unknown, expired, cancelled, or another caller's: the same answer in every case. */
  exportNotFound: () => single(404, 'not-found', 'No such export job (unknown, expired, cancelled, or not yours)'),
  exportFileNotFound: () => single(404, 'not-found', 'No such export file (unknown, expired, or not yours)'),
  exportFailed: (reason: string) => single(500, 'exception', `The export failed: ${reason}`),
} as const;

/**
 * A store was asked to apply several writes at once but its deployment cannot
 * make them all-or-nothing (MongoDB without multi-document transactions:
 * standalone server, CI's wire-protocol emulation). Nothing was written. It is
 * a FhirError so it reaches the client as a 400 OperationOutcome even where
 * the engine did not consult `capabilities.atomicMultiWrite` first.
 */
export class AtomicWriteUnavailable extends FhirError {
  constructor(readonly store: string) {
    super(400, [
      {
        severity: 'error',
        code: 'not-supported',
        diagnostics: `The ${store} store of this deployment cannot apply several writes atomically (no multi-document transactions); nothing was written`,
      },
    ]);
    this.name = 'AtomicWriteUnavailable';
  }
}
