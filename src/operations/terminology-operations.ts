/**
 * ValueSet/$expand and ValueSet/$validate-code for the ValueSets this server
 * holds (the network's, the loaded packages', and the R4 ones base bindings
 * use). Input by `url` (or the instance id at instance level); $validate-code
 * takes `code` + `system` (+ `display`), or `coding`, or `codeableConcept`.
 * An unknown ValueSet is a 404 OperationOutcome; a ValueSet including a code
 * system the server does not hold cannot be expanded (422 "too-costly" is not
 * honest here: it is "not-supported").
 */
import type { CodeableConcept, Coding, Parameters, ValueSet } from 'fhir/r4';
import { errors } from '../errors.js';
import type { ValidationService } from '../validation/validation-service.js';
import { bodyParameters } from './operation-parameters.js';
import type { FhirOperation, OperationRequest } from './operation-registry.js';
import { FhirError } from '../errors.js';

function param(request: OperationRequest, name: string): string | undefined {
  const p = bodyParameters(request).find((x) => x.name === name);
  return p?.valueUri ?? p?.valueCanonical ?? p?.valueCode ?? p?.valueString ?? request.query.find(([n]) => n === name)?.[1];
}

async function valueSetUrl(request: OperationRequest, validation: ValidationService): Promise<string> {
  if (request.level === 'instance') {
    // The caller may read it (checked by the engine before the operation runs).
    const stored = await request.server.read('ValueSet', request.id!);
    const url = (stored.resource as ValueSet | undefined)?.url;
    if (!url) throw errors.invalidParameter('url', 'This ValueSet has no url');
    return url;
  }
  const url = param(request, 'url');
  if (!url) throw errors.invalidParameter('url', 'The ValueSet url is required');
  if (!validation.terminology.isKnownValueSet(url)) throw new FhirError(404, [{ severity: 'error', code: 'not-found', diagnostics: `ValueSet '${url}' is not known to this server`, expression: ['url'] }]);
  return url;
}

/** Terminology answers from definitions: for whoever may search (type level) or read (instance level) ValueSets. */
const TERMINOLOGY_ACCESS: FhirOperation['access'] = {
  type: { requires: 'search-type', reveals: 'no-patient-data' },
  instance: { requires: 'read-instance', reveals: 'no-patient-data' },
};

export function expandOperation(validation: ValidationService): FhirOperation {
  return {
    name: 'expand',
    definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand',
    levels: ['type', 'instance'],
    resourceTypes: ['ValueSet'],
    affectsState: false,
    access: TERMINOLOGY_ACCESS,
    async invoke(request) {
      const url = await valueSetUrl(request, validation);
      const expansion = validation.terminology.expand(url);
      const contains = expansion && validation.terminology.containsOf(expansion);
      if (!contains) throw new FhirError(422, [{ severity: 'error', code: 'not-supported', diagnostics: `ValueSet '${url}' includes code systems this server does not hold: it cannot be expanded here`, expression: ['url'] }]);
      const filter = param(request, 'filter')?.toLowerCase();
      const listed = filter ? contains.filter((c) => c.code!.toLowerCase().includes(filter) || (c.display ?? '').toLowerCase().includes(filter)) : contains;
      const source = validation.registry.get<ValueSet>(url);
      const result: ValueSet = {
        resourceType: 'ValueSet',
        ...(source?.id ? { id: source.id } : {}),
        url,
        status: source?.status ?? 'active',
        ...(source?.name ? { name: source.name } : {}),
        expansion: { identifier: `urn:uuid:${crypto.randomUUID()}`, timestamp: new Date().toISOString(), total: listed.length, contains: listed },
      };
      return { status: 200, resource: result };
    },
  };
}

export function validateCodeOperation(validation: ValidationService): FhirOperation {
  return {
    name: 'validate-code',
    definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code',
    levels: ['type', 'instance'],
    resourceTypes: ['ValueSet'],
    affectsState: false,
    access: TERMINOLOGY_ACCESS,
    async invoke(request) {
      const url = await valueSetUrl(request, validation);
      const body = bodyParameters(request);
      const coding = body.find((p) => p.name === 'coding')?.valueCoding as Coding | undefined;
      const concept = body.find((p) => p.name === 'codeableConcept')?.valueCodeableConcept as CodeableConcept | undefined;
      const codings: Coding[] = concept?.coding ?? (coding ? [coding] : []);
      const code = param(request, 'code');
      if (code) codings.push({ system: param(request, 'system'), code, display: param(request, 'display') });
      if (codings.length === 0) throw errors.invalidParameter('code', 'Give code (+ system), coding or codeableConcept');
      let result = false;
      let message = '';
      let display: string | undefined;
      for (const c of codings) {
        const verdict = validation.terminology.validateCode(url, c.system, c.code ?? '');
        if (verdict.outcome === 'member') {
          display = verdict.display;
          if (c.display && display && c.display !== display) message = `The display '${c.display}' differs from '${display}'`;
          result = true;
          break;
        }
        message = verdict.outcome === 'unknown-system' ? `Codes of ${verdict.system} are not known to this server` : `${c.system ? c.system + '#' : ''}${c.code} is not in the value set ${url}`;
      }
      const parameters: Parameters = {
        resourceType: 'Parameters',
        parameter: [{ name: 'result', valueBoolean: result }, ...(message ? [{ name: 'message', valueString: message }] : []), ...(display ? [{ name: 'display', valueString: display }] : [])],
      };
      return { status: 200, resource: parameters };
    },
  };
}
