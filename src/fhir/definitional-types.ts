/**
 * The resource types that hold definitions — profiles, terminologies,
 * questionnaires, search parameters — rather than facts about people. Both the
 * access policy (who may write them) and the engine's bounds (they
 * legitimately carry thousands of codes or elements) need the list.
 */
export const DEFINITIONAL_TYPES: ReadonlySet<string> = new Set([
  'CapabilityStatement',
  'StructureDefinition',
  'ImplementationGuide',
  'SearchParameter',
  'OperationDefinition',
  'CompartmentDefinition',
  'StructureMap',
  'GraphDefinition',
  'MessageDefinition',
  'CodeSystem',
  'ValueSet',
  'ConceptMap',
  'NamingSystem',
  'TerminologyCapabilities',
  'Questionnaire',
  'PlanDefinition',
  'ActivityDefinition',
]);
