/**
 * $validate (http://hl7.org/fhir/OperationDefinition/Resource-validate), type
 * and instance level. Input: the resource (Parameters `resource`, or the bare
 * resource as body), `profile` (validate against this profile instead of the
 * automatic choice) and `mode` (create | update | delete). Output: always 200
 * with an OperationOutcome; the R4 spec says the operation succeeds when the
 * validation could be performed, whatever the verdict. At instance level with no
 * resource given, the stored resource is validated (and mode=delete checks it exists).
 * Input that is not a resource at all (a JSON value without a string `resourceType`) is
 * not something validation can be performed on: 400, as for any other malformed body —
 * the operation's `resource` parameter is typed Resource, and the OpenAPI document says
 * so (a schemathesis run flagged the 200 as a schema-violating request accepted).
 */
import type { OperationOutcome, Parameters, QuestionnaireResponse, Resource } from 'fhir/r4';
import { errors, type Issue } from '../errors.js';
import { operationOutcome } from '../fhir/operation-outcome.js';
import type { ValidationService } from '../validation/validation-service.js';
import type { EngineLimits } from '../engine/engine-context.js';
import { assertBoundedArrays } from '../engine/resource-checks.js';
import { bodyParameters } from './operation-parameters.js';
import type { FhirOperation, OperationRequest } from './operation-registry.js';
import { findQuestionnaire } from '../questionnaires/questionnaire-resolver.js';
import { checkQuestionnaireAnswers } from '../validation/questionnaire-response-check.js';

/** A QuestionnaireResponse's answers against the Questionnaire it names, when the server knows it. */
async function questionnaireIssues(request: OperationRequest, resource: unknown, validation: ValidationService): Promise<Issue[]> {
  const response = resource as QuestionnaireResponse;
  if (response.resourceType !== 'QuestionnaireResponse' || typeof response.questionnaire !== 'string') return [];
  const questionnaire = await findQuestionnaire(request.server, validation.registry, response.questionnaire);
  if (!questionnaire) {
    return [{ severity: 'information', code: 'not-found', diagnostics: `Questionnaire ${response.questionnaire} is not known to this server: the answers were not checked against it`, expression: ['QuestionnaireResponse.questionnaire'] }];
  }
  return checkQuestionnaireAnswers(response, questionnaire);
}

const MODES = new Set(['create', 'update', 'delete']);

/** An object naming its type: what can be validated (anything else is a malformed request, not an invalid resource). */
function isResourceShaped(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { resourceType?: unknown }).resourceType === 'string';
}

function input(request: OperationRequest): { resource?: unknown; profile?: string; mode?: string } {
  const body = request.body as (Resource & Parameters) | undefined;
  const query = (name: string) => request.query.find(([n]) => n === name)?.[1];
  if (body && body.resourceType !== 'Parameters') return { resource: body, profile: query('profile'), mode: query('mode') };
  const params = bodyParameters(request);
  const p = (name: string) => params.find((x) => x.name === name);
  return {
    resource: p('resource')?.resource,
    profile: p('profile')?.valueUri ?? p('profile')?.valueCanonical ?? query('profile'),
    mode: p('mode')?.valueCode ?? query('mode'),
  };
}

export function validateOperation(validation: ValidationService, limits: Pick<EngineLimits, 'maxArrayElements' | 'maxDefinitionArrayElements'> = {}): FhirOperation {
  return {
    name: 'validate',
    definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
    levels: ['type', 'instance'],
    affectsState: false,
    access: {
      // The resource sent is the input: no stored data is touched, so whoever may write the type may check a resource of it.
      type: { requires: 'write-type', reveals: 'no-patient-data' },
      // The stored resource is checked: as its read.
      instance: { requires: 'read-instance', reveals: 'no-patient-data' },
    },
    async invoke(request) {
      const { resource: given, profile, mode } = input(request);
      if (mode !== undefined && !MODES.has(mode)) throw errors.invalidParameter('mode', `mode must be create, update or delete, got '${mode}'`);
      let resource = given;
      if (request.level === 'instance') {
        // The caller may read it (checked by the engine before the operation runs).
        const stored = await request.server.read(request.resourceType!, request.id!);
        if (mode === 'delete') return { status: 200, resource: operationOutcome([{ severity: 'information', code: 'informational', diagnostics: 'The resource exists and may be deleted' }]) as OperationOutcome };
        resource ??= stored.resource;
      }
      if (resource === undefined) throw errors.invalidParameter('resource', 'No resource to validate: give it as the body or as the Parameters "resource"');
      if (!isResourceShaped(resource)) throw errors.invalidParameter('resource', 'Not a FHIR resource: a JSON object whose resourceType is a string is expected');
      const issues: Issue[] = [];
      const r = resource as { resourceType?: unknown; id?: unknown };
      if (r.resourceType !== request.resourceType) issues.push({ severity: 'error', code: 'invalid', diagnostics: `Expected a ${request.resourceType}, got ${String(r.resourceType)}`, expression: ['resourceType'] });
      if (mode === 'update' && !r.id) issues.push({ severity: 'error', code: 'required', diagnostics: 'An update needs the resource id', expression: [`${request.resourceType}.id`] });
      if (request.level === 'instance' && r.id !== undefined && r.id !== request.id) issues.push({ severity: 'error', code: 'invalid', diagnostics: `The resource id '${String(r.id)}' does not match the URL id '${request.id}'`, expression: [`${request.resourceType}.id`] });
      if (issues.length === 0) {
        // The same bounds as a write (an array of 9,000 names held the event loop for most of a second).
        if (typeof resource === 'object' && resource !== null) assertBoundedArrays(limits, resource);
        if (profile && !validation.profiles.profile(profile)) throw errors.invalidParameter('profile', `Profile '${profile}' is not known to this server`);
        issues.push(...validation.validate(resource, profile ? { profiles: [profile] } : { enforcement: 'network' }));
        // A QuestionnaireResponse also against its Questionnaire, as on write (src/questionnaires), once its structure holds
        // (enforcement off: the structural check alone).
        const structural = validation.validate(resource, { enforcement: 'off' });
        if (!structural.some((i) => i.severity === 'error' || i.severity === 'fatal')) issues.push(...(await questionnaireIssues(request, resource, validation)));
      }
      if (!issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) issues.push({ severity: 'information', code: 'informational', diagnostics: 'Validation successful: no errors' });
      return { status: 200, resource: operationOutcome(issues) as OperationOutcome };
    },
  };
}
