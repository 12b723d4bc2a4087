/**
 * The access policy's deployment settings, from the configuration: the types
 * a regional platform may read (PLATFORM_SHARED_TYPES, default
 * DEFAULT_PLATFORM_SHARED_TYPES). A type the server does not know, or the
 * audit trail, stops the server at start (exit 2): a typo must not silently
 * share less, or more, than intended.
 */
import { ConfigError, type RelaisConfig } from '../config.js';
import { DEFAULT_POLICY_SETTINGS, type PolicySettings } from './access-policy.js';
import { resourceClass } from './resource-classes.js';

export function policySettingsFromConfig(config: RelaisConfig, resourceTypes: readonly string[]): PolicySettings {
  if (!config.PLATFORM_SHARED_TYPES) return DEFAULT_POLICY_SETTINGS;
  const types = config.PLATFORM_SHARED_TYPES.split(',');
  for (const type of types) {
    if (!resourceTypes.includes(type)) throw new ConfigError(`invalid configuration: PLATFORM_SHARED_TYPES names '${type}', which is not an R4 resource type`);
    if (resourceClass(type) === 'audit') throw new ConfigError(`invalid configuration: PLATFORM_SHARED_TYPES may not share ${type} (the audit trail is for auditors only)`);
  }
  return { platformSharedTypes: new Set(types) };
}
