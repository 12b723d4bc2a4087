/**
 * The SMART on FHIR discovery document (App Launch 2.x,
 * `/.well-known/smart-configuration`) and the matching `rest.security` of the
 * CapabilityStatement. Relais is a resource server: the endpoints it lists
 * belong to the identity provider, from configuration.
 */
import type { CapabilityStatementRestSecurity } from 'fhir/r4';
import type { RelaisConfig } from '../config.js';
import { SUPPORTED_SCOPE_EXAMPLES } from '../identity/smart-scopes.js';

export interface SmartConfiguration {
  issuer?: string;
  jwks_uri?: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  scopes_supported: string[];
  response_types_supported: string[];
  capabilities: string[];
  code_challenge_methods_supported: string[];
}

export function smartConfiguration(config: RelaisConfig, issuer: string | undefined): SmartConfiguration {
  return {
    ...(issuer ? { issuer } : {}),
    ...(config.AUTH_JWKS_URL ? { jwks_uri: config.AUTH_JWKS_URL } : {}),
    ...(config.SMART_AUTHORIZE_URL ? { authorization_endpoint: config.SMART_AUTHORIZE_URL } : {}),
    ...(config.SMART_TOKEN_URL ? { token_endpoint: config.SMART_TOKEN_URL } : {}),
    grant_types_supported: ['authorization_code', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
    scopes_supported: SUPPORTED_SCOPE_EXAMPLES,
    response_types_supported: ['code'],
    capabilities: [
      'launch-standalone',
      'client-public',
      'client-confidential-symmetric',
      'client-confidential-asymmetric',
      'sso-openid-connect',
      'context-standalone-patient',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
    ],
    code_challenge_methods_supported: ['S256'],
  };
}

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

/** rest.security for the CapabilityStatement; undefined when authentication is off. */
export function capabilitySecurity(config: RelaisConfig): CapabilityStatementRestSecurity | undefined {
  if (config.AUTH_MODE === 'none') return undefined;
  const uris = [
    ...(config.SMART_AUTHORIZE_URL ? [{ url: 'authorize', valueUri: config.SMART_AUTHORIZE_URL }] : []),
    ...(config.SMART_TOKEN_URL ? [{ url: 'token', valueUri: config.SMART_TOKEN_URL }] : []),
  ];
  return {
    cors: config.CORS_ORIGINS.trim().length > 0,
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }],
      },
    ],
    description:
      'Bearer JWTs from the configured OpenID Connect provider (SMART on FHIR v2 scopes; v1 accepted). Access to patient data needs the patient\'s consent, care-team membership and a signed agreement with the network; every access is audited.',
    ...(uris.length > 0 ? { extension: [{ url: OAUTH_URIS, extension: uris }] } : {}),
  };
}
