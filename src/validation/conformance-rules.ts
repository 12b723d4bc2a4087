/**
 * Checks the HL7 validator makes on conformance resources beyond their invariants:
 *  - a resource published in HL7's own namespace (a canonical `url` under http://hl7.org/fhir)
 *    names its owning work group with the structuredefinition-wg extension (HL7's publication
 *    rule, which the reference applies to any such resource);
 *  - a SearchParameter's FHIRPath expression parses (fhirpath.js compiles it against the
 *    R4 model); one that cannot be read could never be evaluated.
 */
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import type { Issue } from '../errors.js';

const WORK_GROUP = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-wg';
const CANONICAL_RESOURCES = new Set([
  'ActivityDefinition', 'CapabilityStatement', 'ChargeItemDefinition', 'CodeSystem', 'CompartmentDefinition', 'ConceptMap', 'EffectEvidenceSynthesis', 'EventDefinition',
  'Evidence', 'EvidenceVariable', 'ExampleScenario', 'GraphDefinition', 'ImplementationGuide', 'Library', 'Measure', 'MessageDefinition', 'NamingSystem', 'OperationDefinition',
  'PlanDefinition', 'Questionnaire', 'ResearchDefinition', 'ResearchElementDefinition', 'RiskEvidenceSynthesis', 'SearchParameter', 'StructureDefinition', 'StructureMap',
  'TerminologyCapabilities', 'TestScript', 'ValueSet',
]);

type Json = Record<string, unknown>;

export function conformanceIssues(resource: Json): Issue[] {
  const type = String(resource.resourceType);
  if (!CANONICAL_RESOURCES.has(type)) return [];
  const issues: Issue[] = [];
  const url = typeof resource.url === 'string' ? resource.url : '';
  if (url.startsWith('http://hl7.org/fhir/') || url === 'http://hl7.org/fhir') {
    const extensions = Array.isArray(resource.extension) ? (resource.extension as Json[]) : [];
    if (!extensions.some((e) => e?.url === WORK_GROUP)) {
      issues.push({ severity: 'error', code: 'business-rule', diagnostics: `A resource published in HL7's namespace (${url}) must name its owning work group (extension ${WORK_GROUP})`, expression: [type] });
    }
  }
  if (type === 'SearchParameter' && typeof resource.expression === 'string') {
    try {
      // hasExtension() is FHIR's, not FHIRPath's: read it as extension(url).exists() (see index-extractor.ts).
      fhirpath.compile(resource.expression.replace(/hasExtension\(/g, 'extension('), r4model);
    } catch (error) {
      const message = (error as Error).message;
      if (!/not implemented/i.test(message)) {
        issues.push({ severity: 'error', code: 'invalid', diagnostics: `The expression of this SearchParameter does not parse: ${message.slice(0, 200)}`, expression: ['SearchParameter.expression'] });
      }
    }
  }
  return issues;
}
