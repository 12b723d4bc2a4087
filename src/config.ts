/**
 * Configuration, from the environment only (secrets included), validated at
 * start with env-schema: a wrong value stops the server with one line saying
 * which variable, why, and what it accepts (exit code 2, see server.ts). The
 * README's configuration table mirrors this schema.
 */
import envSchema from 'env-schema';
import { describeConfigErrors, type SchemaError } from './config-errors.js';

export interface RelaisConfig {
  PORT: number;
  /** Listen address: 127.0.0.1 by default (the Docker image sets 0.0.0.0). */
  HOST: string;
  /** Public base URL of the FHIR endpoint; used in Location headers, fullUrl and links. */
  BASE_URL?: string;
  DATA_DIR: string;
  /** When set, resources live in this MongoDB deployment instead of the embedded store in DATA_DIR. */
  MONGODB_URI?: string;
  /** Database name; defaults to the URI's, else "relais". */
  MONGODB_DATABASE?: string;
  /** Write concern `w` of every write: "majority" (default) or a number of members. */
  MONGODB_WRITE_CONCERN: string;
  /** Wait for the journal before acknowledging (write concern `j`). */
  MONGODB_JOURNAL: boolean;
  MONGODB_WTIMEOUT_MS: number;
  /** Read concern of reads (always on the primary): "local" sees every acknowledged write at once. */
  MONGODB_READ_CONCERN: 'local' | 'majority';
  /** "auto": use multi-document transactions where the deployment has them; "off": never. */
  MONGODB_TRANSACTIONS: 'auto' | 'off';
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  BODY_LIMIT_BYTES: number;
  /** Worker threads reading and checking big bodies off the event loop (src/body-work); 0: all on the event loop. */
  BODY_WORKERS: number;
  /** Bodies at least this big (bytes of XML text, or of JSON strings and keys) go to a body worker. */
  BODY_WORKER_THRESHOLD_BYTES: number;
  DEFAULT_PAGE_SIZE: number;
  MAX_PAGE_SIZE: number;
  /** Paging snapshots (src/engine/search-result-sets.ts): a cursor unused this long expires (410). */
  SEARCH_RESULT_SET_IDLE_SECONDS: number;
  /** Paging snapshots kept at most (per embedded process, per MongoDB database); the least recently used go first. */
  SEARCH_RESULT_SETS_MAX: number;
  SHUTDOWN_GRACE_MS: number;
  /** Subscriptions (src/subscriptions): URL schemes a rest-hook endpoint may use, comma-separated. */
  SUBSCRIPTION_ENDPOINT_SCHEMES: string;
  /** Hosts a rest-hook endpoint may name (comma-separated; `*.example.org` for subdomains); empty: any public host. */
  SUBSCRIPTION_ENDPOINT_HOSTS: string;
  /** Let rest-hook endpoints resolve to loopback, private, link-local or other non-public addresses (tests, closed networks). */
  SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: boolean;
  /** Consecutive failed deliveries after which a subscription turns to `error` (it keeps being retried). */
  SUBSCRIPTION_ERROR_AFTER_FAILURES: number;
  /** First retry delay; doubled per failure (full jitter) up to SUBSCRIPTION_RETRY_MAX_MS. */
  SUBSCRIPTION_RETRY_BASE_MS: number;
  SUBSCRIPTION_RETRY_MAX_MS: number;
  /** Default time a rest-hook endpoint has to answer (the backport-timeout extension may shorten it). */
  SUBSCRIPTION_TIMEOUT_MS: number;
  /** How often each process looks for undelivered notifications and subscription changes made elsewhere. */
  SUBSCRIPTION_POLL_MS: number;
  /** Delivered events kept per subscription for $events. */
  SUBSCRIPTION_EVENTS_KEPT: number;
  /** Secret signing websocket binding tokens (shared by every process of a deployment); random per process when unset. */
  SUBSCRIPTION_TOKEN_SECRET?: string;
  REQUEST_TIMEOUT_MS: number;
  /** Discharge coordination (src/coordination; documented in docs/coordination.md): the network's local time zone. */
  DISCHARGE_TIMEZONE: string;
  /** Public holidays: "FR", or "FR-57"/"FR-67"/"FR-68" (Alsace-Moselle), "FR-RE"... */
  DISCHARGE_HOLIDAY_REGION: string;
  /** Comma-separated alert rules in force: friday-afternoon, weekend, holiday-eve, short-notice, missing-items, no-nurse-in-range, complex-case. */
  DISCHARGE_ALERT_RULES: string;
  /** Friday discharges from this local hour on raise the friday-afternoon alert. */
  DISCHARGE_FRIDAY_FROM_HOUR: number;
  /** Notice the network needs to organise a return home; less raises short-notice. */
  DISCHARGE_LEAD_TIME_HOURS: number;
  /** FINESS of the coordination team's Organization (owner of coordination Tasks, recipient of alerts). */
  COORDINATION_TEAM_FINESS?: string;
  /** The resource types a regional platform (role platform) may read, search and page the history of (comma-separated). */
  PLATFORM_SHARED_TYPES?: string;
  /** $find-professionals: search radius around the patient's home, and how many candidates to return. */
  PROFESSIONAL_SEARCH_RADIUS_KM: number;
  PROFESSIONAL_SEARCH_MAX: number;
  /** What a liberal nurse's round absorbs for one patient: beyond, a discharge is a complex case (src/coordination/care-load.ts). */
  DISCHARGE_LIBERAL_MAX_MINUTES_PER_DAY: number;
  DISCHARGE_LIBERAL_MAX_VISITS_PER_DAY: number;
  /** Radius around the patient's home for HAD, SSIAD and home-help services. */
  HOME_CARE_SERVICE_RADIUS_KM: number;
  /** dev: tokens signed by a local key (npm run token); oidc: an external provider; none: no authentication (loudly logged). */
  AUTH_MODE: 'dev' | 'oidc' | 'none';
  /** Expected `iss` (oidc: required; dev: defaults to "relais-dev"). */
  AUTH_ISSUER?: string;
  /** Expected `aud`; defaults to the FHIR base URL, as SMART prescribes. */
  AUTH_AUDIENCE?: string;
  /** The provider's JWKS URL (keys fetched and refreshed on rotation). */
  AUTH_JWKS_URL?: string;
  /** A local JWKS (JSON) or PEM public key file, instead of AUTH_JWKS_URL. */
  AUTH_KEY_FILE?: string;
  AUTH_ALGORITHMS: string;
  AUTH_CLOCK_SKEW_SECONDS: number;
  /** How long a verified token is remembered (its signature not checked again), at most until it expires; 0 disables. */
  AUTH_TOKEN_CACHE_SECONDS: number;
  /** Longest lifetime accepted for an access token (exp − iat, and exp − now): an `exp` 10^20 seconds away is refused. */
  AUTH_MAX_TOKEN_LIFETIME_SECONDS: number;
  /** JSON object overriding the claim → principal mapping (see src/auth/principal.ts). */
  AUTH_CLAIMS_MAPPING?: string;
  /** Advertised in /.well-known/smart-configuration and the CapabilityStatement. */
  SMART_AUTHORIZE_URL?: string;
  SMART_TOKEN_URL?: string;
  /** Comma-separated allowed CORS origins; empty = no cross-origin access. */
  CORS_ORIGINS: string;
  /** Requests per window per client (token subject, else IP) for people and anonymous callers; see src/auth/rate-limits.ts. */
  RATE_LIMIT_MAX?: number;
  /** Per-role maxima, e.g. "platform=120000,hospital=60000" (roles: practitioner, coordinator, auditor, hospital, platform, anonymous). */
  RATE_LIMIT_MAX_BY_ROLE?: string;
  RATE_LIMIT_WINDOW_MS: number;
  /** Longest accepted request URL (path and query) in bytes. */
  MAX_URL_BYTES: number;
  /** Cost bounds of one request (issue 18): search parameters (query + form), _sort keys, _include/_revinclude specs. */
  LIMIT_QUERY_PARAMETERS: number;
  LIMIT_SORT_KEYS: number;
  LIMIT_INCLUDES: number;
  /** Entries of a batch/transaction Bundle, and resources its read entries may return in all. */
  LIMIT_BUNDLE_ENTRIES: number;
  LIMIT_BUNDLE_READ_RESOURCES: number;
  /** Elements of any array of a resource written, and index values one search parameter may take from it. */
  LIMIT_ARRAY_ELEMENTS: number;
  LIMIT_DEFINITION_ARRAY_ELEMENTS: number;
  LIMIT_INDEX_VALUES: number;
  /** Text (bytes) all the search index entries of one written resource may hold. */
  LIMIT_INDEX_BYTES: number;
  /** off: structure only; claimed: + profiles claimed in meta.profile; network: + the network profile of each network resource type. */
  VALIDATION_ENFORCEMENT: 'off' | 'claimed' | 'network';
  /** An extension the server has no definition of: network-error = an error on the network's profiled resource types, information elsewhere; error = everywhere; information = nowhere an error. */
  UNKNOWN_EXTENSIONS: 'network-error' | 'error' | 'information';
  /** Folder of FHIR packages (.tgz) loaded at start (FR Core, ANS guides...). */
  FHIR_PACKAGES_DIR: string;
  /** Bulk export (src/bulk): how long a finished export's files stay downloadable. */
  BULK_EXPORT_RETENTION_SECONDS: number;
  /** Exports a client may have queued or running at once (more: 429). */
  BULK_EXPORT_MAX_JOBS_PER_CLIENT: number;
  /** Resources per output file. */
  BULK_EXPORT_FILE_MAX_RESOURCES: number;
  /** Exports one process runs at the same time. */
  BULK_EXPORT_WORKERS: number;
  /** How long a worker's hold on a job lasts without renewal: after it, another instance resumes a job whose worker died. */
  BULK_EXPORT_LEASE_SECONDS: number;
  /** AUTH_MODE=dev: folder of the development signing key and registered backend clients (default DATA_DIR/dev-auth); point several replicas at one shared folder. */
  AUTH_DEV_DIR?: string;
  /** Prometheus metrics at /metrics. */
  METRICS_ENABLED: boolean;
  /** When set, /metrics needs `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN?: string;
  /** OpenTelemetry traces are exported (OTLP over HTTP) when one of these is set (standard OpenTelemetry variables). */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_SERVICE_NAME: string;
  /** Start-up: how long to keep retrying a store that cannot be reached (MongoDB down), 0 = forever. */
  STORE_STARTUP_TIMEOUT_SECONDS: number;
}

/** Roles whose rate limit can be set (src/auth/rate-limits.ts). */
export const RATE_LIMIT_ROLES = ['practitioner', 'coordinator', 'auditor', 'hospital', 'platform', 'anonymous'] as const;
const ROLE_LIMIT = `(${RATE_LIMIT_ROLES.join('|')})=[1-9][0-9]*`;

const schema = {
  type: 'object',
  required: [],
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    BASE_URL: { type: 'string', pattern: '^https?://[^\\s/]+(/[^\\s]*)?[^/\\s]$' },
    DATA_DIR: { type: 'string', minLength: 1, default: './data' },
    MONGODB_URI: { type: 'string', pattern: '^mongodb(\\+srv)?://' },
    MONGODB_DATABASE: { type: 'string', pattern: '^[^/\\\\. "$]{1,63}$' },
    MONGODB_WRITE_CONCERN: { type: 'string', pattern: '^(majority|[0-9]+)$', default: 'majority' },
    MONGODB_JOURNAL: { type: 'boolean', default: true },
    MONGODB_WTIMEOUT_MS: { type: 'integer', minimum: 0, default: 10000 },
    MONGODB_READ_CONCERN: { type: 'string', enum: ['local', 'majority'], default: 'local' },
    MONGODB_TRANSACTIONS: { type: 'string', enum: ['auto', 'off'], default: 'auto' },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    BODY_LIMIT_BYTES: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 10485760 },
    BODY_WORKERS: { type: 'integer', minimum: 0, maximum: 16, default: 1 },
    BODY_WORKER_THRESHOLD_BYTES: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 262144 },
    DEFAULT_PAGE_SIZE: { type: 'integer', minimum: 1, maximum: 1000, default: 20 },
    MAX_PAGE_SIZE: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
    SEARCH_RESULT_SET_IDLE_SECONDS: { type: 'integer', minimum: 10, maximum: 86400, default: 1800 },
    SEARCH_RESULT_SETS_MAX: { type: 'integer', minimum: 1, maximum: 1000000, default: 500 },
    SHUTDOWN_GRACE_MS: { type: 'integer', minimum: 0, default: 10000 },
    REQUEST_TIMEOUT_MS: { type: 'integer', minimum: 1000, default: 30000 },
    DISCHARGE_TIMEZONE: { type: 'string', minLength: 1, default: 'Europe/Paris' },
    DISCHARGE_HOLIDAY_REGION: { type: 'string', pattern: '^[A-Z]{2}(-[A-Z0-9]{1,3})?$', default: 'FR' },
    DISCHARGE_ALERT_RULES: {
      type: 'string',
      pattern: '^((friday-afternoon|weekend|holiday-eve|short-notice|missing-items|no-nurse-in-range|complex-case)(,(friday-afternoon|weekend|holiday-eve|short-notice|missing-items|no-nurse-in-range|complex-case))*)?$',
      default: 'friday-afternoon,weekend,holiday-eve,short-notice,missing-items,no-nurse-in-range,complex-case',
    },
    DISCHARGE_FRIDAY_FROM_HOUR: { type: 'integer', minimum: 0, maximum: 23, default: 12 },
    DISCHARGE_LEAD_TIME_HOURS: { type: 'integer', minimum: 0, maximum: 720, default: 48 },
    COORDINATION_TEAM_FINESS: { type: 'string', pattern: '^[0-9A-Z]{9}$' },
    PLATFORM_SHARED_TYPES: { type: 'string', pattern: '^[A-Z][A-Za-z]+(,[A-Z][A-Za-z]+)*$' },
    PROFESSIONAL_SEARCH_RADIUS_KM: { type: 'number', exclusiveMinimum: 0, maximum: 500, default: 15 },
    PROFESSIONAL_SEARCH_MAX: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
    DISCHARGE_LIBERAL_MAX_MINUTES_PER_DAY: { type: 'integer', minimum: 1, maximum: 1440, default: 90 },
    DISCHARGE_LIBERAL_MAX_VISITS_PER_DAY: { type: 'number', exclusiveMinimum: 0, maximum: 48, default: 3 },
    HOME_CARE_SERVICE_RADIUS_KM: { type: 'number', exclusiveMinimum: 0, maximum: 500, default: 30 },
    AUTH_MODE: { type: 'string', enum: ['dev', 'oidc', 'none'], default: 'dev' },
    AUTH_ISSUER: { type: 'string', minLength: 1 },
    AUTH_AUDIENCE: { type: 'string', minLength: 1 },
    AUTH_JWKS_URL: { type: 'string', pattern: '^https?://' },
    AUTH_KEY_FILE: { type: 'string', minLength: 1 },
    AUTH_ALGORITHMS: { type: 'string', pattern: '^[A-Z0-9]+(,[A-Z0-9]+)*$', default: 'RS256,PS256,ES256' },
    AUTH_CLOCK_SKEW_SECONDS: { type: 'integer', minimum: 0, maximum: 300, default: 30 },
    AUTH_MAX_TOKEN_LIFETIME_SECONDS: { type: 'integer', minimum: 60, maximum: 2592000, default: 86400 },
    AUTH_TOKEN_CACHE_SECONDS: { type: 'integer', minimum: 0, maximum: 3600, default: 60 },
    AUTH_CLAIMS_MAPPING: { type: 'string', minLength: 2 },
    SMART_AUTHORIZE_URL: { type: 'string', pattern: '^https?://' },
    SMART_TOKEN_URL: { type: 'string', pattern: '^https?://' },
    CORS_ORIGINS: { type: 'string', default: '' },
    RATE_LIMIT_MAX: { type: 'integer', minimum: 1 },
    RATE_LIMIT_MAX_BY_ROLE: { type: 'string', pattern: `^(${ROLE_LIMIT})(,(${ROLE_LIMIT}))*$` },
    RATE_LIMIT_WINDOW_MS: { type: 'integer', minimum: 1000, default: 60000 },
    MAX_URL_BYTES: { type: 'integer', minimum: 1024, maximum: 65536, default: 8192 },
    LIMIT_QUERY_PARAMETERS: { type: 'integer', minimum: 10, maximum: 100000, default: 100 },
    LIMIT_SORT_KEYS: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
    LIMIT_INCLUDES: { type: 'integer', minimum: 1, maximum: 1000, default: 20 },
    LIMIT_BUNDLE_ENTRIES: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 },
    LIMIT_BUNDLE_READ_RESOURCES: { type: 'integer', minimum: 1, maximum: 10000000, default: 10000 },
    LIMIT_ARRAY_ELEMENTS: { type: 'integer', minimum: 10, maximum: 10000000, default: 1000 },
    LIMIT_DEFINITION_ARRAY_ELEMENTS: { type: 'integer', minimum: 10, maximum: 10000000, default: 100000 },
    LIMIT_INDEX_VALUES: { type: 'integer', minimum: 10, maximum: 10000000, default: 1000 },
    LIMIT_INDEX_BYTES: { type: 'integer', minimum: 65536, maximum: 1073741824, default: 16777216 },
    VALIDATION_ENFORCEMENT: { type: 'string', enum: ['off', 'claimed', 'network'], default: 'network' },
    UNKNOWN_EXTENSIONS: { type: 'string', enum: ['network-error', 'error', 'information'], default: 'network-error' },
    FHIR_PACKAGES_DIR: { type: 'string', minLength: 1, default: './fhir-packages' },
    SUBSCRIPTION_ENDPOINT_SCHEMES: { type: 'string', pattern: '^(https?)(,(https?))*$', default: 'https' },
    SUBSCRIPTION_ENDPOINT_HOSTS: { type: 'string', default: '' },
    SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: { type: 'boolean', default: false },
    SUBSCRIPTION_ERROR_AFTER_FAILURES: { type: 'integer', minimum: 1, maximum: 1000, default: 5 },
    SUBSCRIPTION_RETRY_BASE_MS: { type: 'integer', minimum: 10, maximum: 600000, default: 1000 },
    SUBSCRIPTION_RETRY_MAX_MS: { type: 'integer', minimum: 10, maximum: 86400000, default: 300000 },
    SUBSCRIPTION_TIMEOUT_MS: { type: 'integer', minimum: 100, maximum: 120000, default: 10000 },
    SUBSCRIPTION_POLL_MS: { type: 'integer', minimum: 50, maximum: 600000, default: 2000 },
    SUBSCRIPTION_EVENTS_KEPT: { type: 'integer', minimum: 0, maximum: 1000000, default: 1000 },
    SUBSCRIPTION_TOKEN_SECRET: { type: 'string', minLength: 32 },
    BULK_EXPORT_RETENTION_SECONDS: { type: 'integer', minimum: 60, maximum: 2592000, default: 86400 },
    BULK_EXPORT_MAX_JOBS_PER_CLIENT: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
    BULK_EXPORT_FILE_MAX_RESOURCES: { type: 'integer', minimum: 1, maximum: 10000000, default: 50000 },
    BULK_EXPORT_WORKERS: { type: 'integer', minimum: 0, maximum: 16, default: 1 },
    BULK_EXPORT_LEASE_SECONDS: { type: 'integer', minimum: 2, maximum: 3600, default: 30 },
    AUTH_DEV_DIR: { type: 'string', minLength: 1 },
    METRICS_ENABLED: { type: 'boolean', default: true },
    METRICS_TOKEN: { type: 'string', minLength: 16 },
    OTEL_EXPORTER_OTLP_ENDPOINT: { type: 'string', pattern: '^https?://' },
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { type: 'string', pattern: '^https?://' },
    OTEL_SERVICE_NAME: { type: 'string', minLength: 1, default: 'relais' },
    STORE_STARTUP_TIMEOUT_SECONDS: { type: 'integer', minimum: 0, default: 600 },
  },
} as const;

/** A configuration the server cannot run with: the process stops with exit code 2 (server.ts). */
export class ConfigError extends Error {}

/**
 * What a pattern-checked variable accepts, in words (an enum's allowed values
 * come from the schema itself).
 */
const ACCEPTS: Record<string, string> = {
  BASE_URL: 'an http(s) URL without a trailing slash, e.g. https://fhir.example.org/fhir',
  MONGODB_URI: 'a mongodb:// or mongodb+srv:// URI',
  MONGODB_DATABASE: 'a MongoDB database name (1-63 characters, none of / \\ . " $ or space)',
  MONGODB_WRITE_CONCERN: 'majority or a number of members',
  DISCHARGE_HOLIDAY_REGION: 'FR, or a region such as FR-57, FR-67, FR-68, FR-RE',
  DISCHARGE_ALERT_RULES: 'a comma-separated list of friday-afternoon, weekend, holiday-eve, short-notice, missing-items, no-nurse-in-range (or empty)',
  COORDINATION_TEAM_FINESS: 'a 9-character FINESS number',
  PLATFORM_SHARED_TYPES: 'a comma-separated list of R4 resource types, e.g. Patient,Encounter',
  AUTH_JWKS_URL: 'an http(s) URL',
  AUTH_ALGORITHMS: 'a comma-separated list of JWS algorithms, e.g. RS256,PS256,ES256',
  SMART_AUTHORIZE_URL: 'an http(s) URL',
  SMART_TOKEN_URL: 'an http(s) URL',
  RATE_LIMIT_MAX_BY_ROLE: `a comma-separated list of role=max, roles among ${RATE_LIMIT_ROLES.join(', ')}, e.g. platform=120000,hospital=60000`,
  OTEL_EXPORTER_OTLP_ENDPOINT: 'an http(s) URL, e.g. http://otel-collector:4318',
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'an http(s) URL, e.g. http://otel-collector:4318/v1/traces',
  SUBSCRIPTION_ENDPOINT_SCHEMES: 'https, http or a comma-separated list of both, e.g. http,https',
};

/** Variables whose value is never repeated in an error message. */
const SECRETS = new Set(['MONGODB_URI', 'METRICS_TOKEN', 'AUTH_CLAIMS_MAPPING', 'SUBSCRIPTION_TOKEN_SECRET']);

/** Reads and validates the configuration; throws ConfigError with a one-line message. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelaisConfig {
  try {
    return envSchema<RelaisConfig>({ schema, data: { ...env }, env: false, dotenv: false });
  } catch (error) {
    const detailed = (error as { errors?: SchemaError[] }).errors;
    const message = detailed
      ? describeConfigErrors(detailed, env, { accepts: ACCEPTS, secrets: SECRETS })
      : (error as Error).message.replace(/\s+/g, ' ').replace(/^env\//, '');
    throw new ConfigError(`invalid configuration: ${message}`);
  }
}

export function baseUrlOf(config: RelaisConfig): string {
  return config.BASE_URL ?? `http://localhost:${config.PORT}/fhir`;
}
