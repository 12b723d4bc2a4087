/**
 * The search parameters of a Relais process: R4's own, then the network's
 * SearchParameters (profiles/; `npm run reindex` indexes resources written
 * before them). Built the same way wherever resources are indexed: the event
 * loop's engine and the body workers (src/body-work).
 */
import type { FhirDefinitions } from '../fhir/definitions.js';
import { loadProfileSearchParameters } from './profile-search-parameters.js';
import { SearchParameterRegistry } from './search-parameters.js';

export function networkSearchParameters(defs: FhirDefinitions): SearchParameterRegistry {
  const nonDomainTypes = defs.resourceTypes.filter((t) => defs.types[t]?.base !== 'DomainResource');
  const searchParameters = new SearchParameterRegistry(defs.searchParameters, defs.resourceTypes, nonDomainTypes);
  for (const definition of loadProfileSearchParameters()) searchParameters.add(definition, defs.resourceTypes);
  return searchParameters;
}
