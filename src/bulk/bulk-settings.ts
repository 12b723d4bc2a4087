/**
 * How bulk exports run: from the configuration (BULK_EXPORT_*), plus timings
 * that only tests change (a lease of seconds, a settle delay of none).
 */
import type { RelaisConfig } from '../config.js';

export interface BulkSettings {
  /** How long a finished job and its files stay (status then answers 404). */
  retentionMs: number;
  /** Exports one caller may have queued or running at once; the next kick-off gets 429. */
  maxActiveJobsPerOwner: number;
  /** A new output file is started after this many resources or bytes (each file is one audited listing). */
  fileMaxResources: number;
  fileMaxBytes: number;
  /** Jobs one process runs at the same time. */
  workers: number;
  /** A worker's hold on a job, renewed while it works; once it has run out, another process resumes the job. */
  leaseMs: number;
  /**
   * Wait after transactionTime before reading (IG: "a FHIR Server might need to wait for any pending
   * transactions to resolve"): a write dated before it is visible by then (embedded: fsync; MongoDB: the
   * compare-and-set on the primary).
   */
  settleMs: number;
  /** How often an idle worker looks for jobs (a kick-off on the same process wakes it at once). */
  pollMs: number;
  /** How often expired and cancelled jobs are removed. */
  sweepMs: number;
  /** A job that has been started this many times without finishing is failed. */
  maxAttempts: number;
  /** Manifest requiresAccessToken: true whenever the API requires a token (AUTH_MODE dev or oidc). */
  requiresAccessToken: boolean;
}

export function bulkSettingsFromConfig(config: RelaisConfig, overrides: Partial<BulkSettings> = {}): BulkSettings {
  return {
    retentionMs: config.BULK_EXPORT_RETENTION_SECONDS * 1000,
    maxActiveJobsPerOwner: config.BULK_EXPORT_MAX_JOBS_PER_CLIENT,
    fileMaxResources: config.BULK_EXPORT_FILE_MAX_RESOURCES,
    fileMaxBytes: 256 * 1024 * 1024,
    workers: config.BULK_EXPORT_WORKERS,
    leaseMs: config.BULK_EXPORT_LEASE_SECONDS * 1000,
    settleMs: 1000,
    pollMs: 1000,
    sweepMs: 60_000,
    maxAttempts: 3,
    requiresAccessToken: config.AUTH_MODE !== 'none',
    ...overrides,
  };
}
