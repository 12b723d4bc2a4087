/**
 * A bulk export job (FHIR Bulk Data Access IG 2.0.0, "Bulk Data Kick-off
 * Request" to "Bulk Data Output File Request") as the document every Relais
 * process shares through the bulk storage (bulk-storage.ts): what was asked,
 * for whom, how far it got, and the files it wrote. Any instance answers its
 * status and serves its files; any instance resumes it after a crash (lease).
 */

/**
 * queued: accepted, not started; running: a worker holds its lease;
 * completed: the manifest is ready; failed: it cannot finish (status answers 500);
 * cancelled: DELETEd by its owner (answers 404; the sweeper removes it).
 */
export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export type ExportLevel = 'system' | 'patient' | 'group';

/** The caller a job exports for, kept so the worker reads exactly what it may read (scopes as the raw tokens). */
export type StoredCaller =
  | { kind: 'client'; principal: StoredPrincipal }
  | { kind: 'anonymous' }
  | { kind: 'server'; reason: string };

export interface StoredPrincipal {
  kind: string;
  subject: string;
  issuer: string;
  clientId?: string;
  rpps?: string;
  finess?: string;
  role: string;
  name?: string;
  /** Every scope of the token, as sent. */
  scope: string;
  launchPatient?: string;
}

/** One file of the manifest (output, deleted or error). */
export interface JobFile {
  type: string;
  /** File name within the job (the download URL ends with it). */
  name: string;
  count: number;
  bytes: number;
}

export interface ExportJob {
  id: string;
  /** Hash naming the caller (job-owner.ts): status, files and cancel answer 404 to anyone else. */
  owner: string;
  caller: StoredCaller;
  level: ExportLevel;
  groupId?: string;
  /** The kick-off URL (a POST's without its body), for the manifest's `request`. */
  request: string;
  /** The instant the export is a consistent view of (manifest transactionTime). */
  transactionTime: string;
  /** Only resources changed after this instant; deletions since then go to `deleted`. */
  since?: string;
  /** The types exported, in order. */
  types: string[];
  /** Per type, the _typeFilter queries (search parameters) of which a resource must match one. */
  typeFilters: Record<string, Array<Array<[string, string]>>>;
  /** Patient-level and Group-level exports: only the compartments of these patients (absent: of any patient). */
  patients?: string[];
  /** _elements: per type ('*' = every type), the elements kept. */
  elements?: Record<string, string[]>;
  /** Information for the error file (parameters ignored under Prefer: handling=lenient, and the like). */
  notices: string[];
  /** Types that could not be exported (refused, or a criterion that no longer compiles): errors in the error file. */
  failures?: string[];
  status: JobStatus;
  /** Where the export is: the type being exported, the last id written of it, and the parts (listings) done. */
  cursor: { typeIndex: number; after?: string; part?: number };
  output: JobFile[];
  deleted: JobFile[];
  error: JobFile[];
  /** Resources written so far, and what was expected at the start (per-type counts), for X-Progress. */
  written: number;
  estimated?: number;
  /** Worker holding the job and until when (ISO); another takes over once it has passed. */
  lease?: { holder: string; until: string };
  /** How many times a worker started (or resumed) it: a job that keeps failing is failed, never retried forever. */
  attempts: number;
  /** Incremented by every replacement (compare-and-set). */
  revision: number;
  createdAt: string;
  updatedAt: string;
  completedAt?: string;
  /** After this instant the job and its files are removed (status and files answer 404). */
  expiresAt?: string;
  /** Why it failed (status answers 500 with it). */
  failure?: string;
}

/** Statuses that count against a caller's limit of concurrent exports. */
export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running'];
