/**
 * A network SearchParameter the R4 base does not define (a Patient's birth city, from the
 * patient-birthPlace extension): the tests that add a parameter at run time (reindexing, the parsed
 * search cache forgetting what it kept) add this one.
 */
export const BIRTH_CITY = {
  resourceType: 'SearchParameter' as const,
  url: 'https://relais-sante.fr/fhir/SearchParameter/patient-birth-city',
  code: 'birth-city',
  base: ['Patient'],
  type: 'string',
  status: 'active',
  expression: "Patient.extension.where(url='http://hl7.org/fhir/StructureDefinition/patient-birthPlace').value.city",
};
