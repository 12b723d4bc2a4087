/**
 * Builds the conformance registry and the validation service from the
 * configuration: profiles/ first (the network's own win on a URL clash), then
 * the packages of FHIR_PACKAGES_DIR. Cached per folder pair: the content is
 * immutable for the life of the process and test files build many servers.
 */
import { resolve } from 'node:path';
import type { RelaisConfig } from '../config.js';
import type { FhirDefinitions } from '../fhir/definitions.js';
import type { StructureValidator } from './structure-validator.js';
import { ValidationService } from './validation-service.js';
import { ConformanceRegistry } from '../conformance/conformance-registry.js';
import { DEFAULT_PROFILES_DIR, loadPackagesDir, loadProfilesDir } from '../conformance/load-conformance.js';

const registries = new Map<string, ConformanceRegistry>();

export function conformanceRegistry(packagesDir: string | undefined, profilesDir: string = DEFAULT_PROFILES_DIR): ConformanceRegistry {
  const key = `${profilesDir}\u0000${packagesDir ?? ''}`;
  let registry = registries.get(key);
  if (!registry) {
    registry = new ConformanceRegistry();
    loadProfilesDir(registry, profilesDir);
    loadPackagesDir(registry, packagesDir ? resolve(packagesDir) : undefined);
    registries.set(key, registry);
  }
  return registry;
}

export function validationFromConfig(
  config: Pick<RelaisConfig, 'FHIR_PACKAGES_DIR' | 'VALIDATION_ENFORCEMENT'> & Partial<Pick<RelaisConfig, 'UNKNOWN_EXTENSIONS'>>,
  definitions: FhirDefinitions,
  structure: StructureValidator,
): ValidationService {
  return new ValidationService(definitions, structure, conformanceRegistry(config.FHIR_PACKAGES_DIR), config.VALIDATION_ENFORCEMENT ?? 'network', {
    unknownExtensions: config.UNKNOWN_EXTENSIONS ?? 'network-error',
  });
}
