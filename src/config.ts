/**
 * Configuration, from the environment only (secrets included), validated at
 * start with env-schema: a wrong value stops the server with one line saying
 * which variable and why. The README's configuration table mirrors this schema.
 */
import envSchema from 'env-schema';

export interface RelaisConfig {
  PORT: number;
  HOST: string;
  /** Public base URL of the FHIR endpoint; used in Location headers, fullUrl and links. */
  BASE_URL?: string;
  DATA_DIR: string;
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  BODY_LIMIT_BYTES: number;
  DEFAULT_PAGE_SIZE: number;
  MAX_PAGE_SIZE: number;
  JOURNAL_COMPACT_BYTES: number;
  SHUTDOWN_GRACE_MS: number;
  REQUEST_TIMEOUT_MS: number;
}

const schema = {
  type: 'object',
  required: [],
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    HOST: { type: 'string', minLength: 1, default: '0.0.0.0' },
    BASE_URL: { type: 'string', pattern: '^https?://[^\\s/]+(/[^\\s]*)?[^/\\s]$' },
    DATA_DIR: { type: 'string', minLength: 1, default: './data' },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    BODY_LIMIT_BYTES: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 10485760 },
    DEFAULT_PAGE_SIZE: { type: 'integer', minimum: 1, maximum: 1000, default: 20 },
    MAX_PAGE_SIZE: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
    JOURNAL_COMPACT_BYTES: { type: 'integer', minimum: 65536, default: 67108864 },
    SHUTDOWN_GRACE_MS: { type: 'integer', minimum: 0, default: 10000 },
    REQUEST_TIMEOUT_MS: { type: 'integer', minimum: 1000, default: 30000 },
  },
} as const;

export class ConfigError extends Error {}

/** Reads and validates the configuration; throws ConfigError with a one-line message. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): RelaisConfig {
  try {
    return envSchema<RelaisConfig>({ schema, data: { ...env }, env: false, dotenv: false });
  } catch (error) {
    const message = (error as Error).message.replace(/\s+/g, ' ').replace(/^env\//, '');
    throw new ConfigError(`invalid configuration: ${message}`);
  }
}

export function baseUrlOf(config: RelaisConfig): string {
  return config.BASE_URL ?? `http://localhost:${config.PORT}/fhir`;
}
