/**
 * The SMART on FHIR discovery document (App Launch 2.x,
 * `/.well-known/smart-configuration`) and the matching `rest.security` of the
 * CapabilityStatement. Relais is a resource server: the endpoints it lists
 * belong to the identity provider, from configuration — except in
 * AUTH_MODE=dev, where Relais itself issues tokens to registered backend
 * services (backend-services-token.ts) at `/auth/token`.
 */
import type { CapabilityStatementRestSecurity } from 'fhir/r4';
import { baseUrlOf, type RelaisConfig } from '../config.js';
import { SUPPORTED_SCOPE_EXAMPLES } from '../identity/smart-scopes.js';

export interface SmartConfiguration {
  issuer?: string;
  jwks_uri?: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  grant_types_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  token_endpoint_auth_signing_alg_values_supported?: string[];
  scopes_supported: string[];
  response_types_supported: string[];
  capabilities: string[];
  code_challenge_methods_supported: string[];
}

/** AUTH_MODE=dev: where registered backend services get tokens (SMART_TOKEN_URL, else /auth/token on the base URL's origin). */
export function devTokenEndpointUrl(config: RelaisConfig): string {
  return config.SMART_TOKEN_URL ?? `${new URL(baseUrlOf(config)).origin}/auth/token`;
}

export function smartConfiguration(config: RelaisConfig, issuer: string | undefined, devTokenUrl?: string): SmartConfiguration {
  const tokenEndpoint = devTokenUrl ?? config.SMART_TOKEN_URL;
  return {
    ...(issuer ? { issuer } : {}),
    ...(config.AUTH_JWKS_URL ? { jwks_uri: config.AUTH_JWKS_URL } : {}),
    ...(config.SMART_AUTHORIZE_URL ? { authorization_endpoint: config.SMART_AUTHORIZE_URL } : {}),
    ...(tokenEndpoint ? { token_endpoint: tokenEndpoint } : {}),
    grant_types_supported: ['authorization_code', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
    // SMART asks servers to support RS384 and ES384 for client assertions.
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
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
  const tokenUrl = config.AUTH_MODE === 'dev' ? devTokenEndpointUrl(config) : config.SMART_TOKEN_URL;
  const uris = [
    ...(config.SMART_AUTHORIZE_URL ? [{ url: 'authorize', valueUri: config.SMART_AUTHORIZE_URL }] : []),
    ...(tokenUrl ? [{ url: 'token', valueUri: tokenUrl }] : []),
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
