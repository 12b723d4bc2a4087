/**
 * Where bulk export jobs and their files live, shared by every process of a
 * deployment: job documents with compare-and-set replacement (a revision) and
 * leases, and append-only output files. Two implementations, one contract
 * (test/bulk/bulk-storage-contract.ts):
 * - directory-bulk-storage.ts: under DATA_DIR (the embedded store's single process);
 * - mongo-bulk-storage.ts: a `bulkjobs` collection and a GridFS bucket (`bulkfiles`)
 *   in the store's MongoDB database, so any instance answers status and serves files.
 *
 * A separate port from the ResourceStore because jobs are not FHIR resources:
 * they must never be searched, versioned, audited or exported themselves.
 */
import type { Readable } from 'node:stream';
import type { ExportJob, JobStatus } from './export-job.js';

/** A file being written: lines are appended in order; nothing is visible before `finish`. */
export interface FileSink {
  /** Appends text; resolves when it may take more (backpressure: bounded bytes in flight). */
  write(text: string): Promise<void>;
  /** Makes the file complete and durable; resolves with its size in bytes. */
  finish(): Promise<number>;
  /** Drops what was written. */
  abort(): Promise<void>;
}

export interface StoredFile {
  stream: Readable;
  size: number;
}

export interface BulkStorage {
  /** Human-readable name for logs. */
  readonly name: string;
  open(): Promise<void>;
  close(): Promise<void>;

  insertJob(job: ExportJob): Promise<void>;
  getJob(id: string): Promise<ExportJob | undefined>;
  /** Replaces the job if it is still at `revision` (the stored job then has revision + 1); false otherwise. */
  replaceJob(job: ExportJob, revision: number): Promise<boolean>;
  /** The owner's jobs in these statuses, oldest first (createdAt, then id). */
  jobsOf(owner: string, statuses: readonly JobStatus[]): Promise<ExportJob[]>;
  /**
   * Takes the oldest job that is queued, or running under a lease that has
   * expired (its worker died): status running, lease to `worker` until
   * now + leaseMs, attempts + 1, revision + 1. Undefined when none.
   */
  claimJob(worker: string, now: Date, leaseMs: number): Promise<ExportJob | undefined>;
  /** How many jobs are in each of these statuses (a cheap count: the queue depth in /metrics, read at each scrape). */
  countJobs(statuses: readonly JobStatus[]): Promise<Partial<Record<JobStatus, number>>>;
  /** Jobs to remove: cancelled, or past their expiry. */
  jobsToSweep(now: Date): Promise<ExportJob[]>;
  deleteJob(id: string): Promise<void>;

  /** A new file of a job (a file of the same name being written before, e.g. by a worker that died, is replaced). */
  createFile(jobId: string, name: string): Promise<FileSink>;
  /** A finished file, or undefined. */
  readFile(jobId: string, name: string): Promise<StoredFile | undefined>;
  /** Removes every file of a job (finished or not). */
  deleteFiles(jobId: string): Promise<void>;
}
