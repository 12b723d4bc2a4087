/**
 * The background side of bulk export, one per process: takes queued jobs (or
 * jobs whose worker died: their lease ran out) from the bulk storage, runs
 * them (export-runner.ts), and removes cancelled and expired jobs with their
 * files. It runs after the kick-off's response, never inside a request; a
 * kick-off on the same process wakes it at once, other processes' kick-offs
 * are found by polling.
 *
 * Never stuck: a job is `running` only under a lease its worker keeps renewing.
 * A worker that stops (shutdown) gives the lease back, so the next start — or
 * another instance — resumes at once; one that dies leaves a lease that runs
 * out; a job started `maxAttempts` times without finishing is failed with the
 * reason, and its status answers 500.
 */
import { randomBytes } from 'node:crypto';
import type { FhirEngine } from '../engine/fhir-engine.js';
import type { BulkStorage } from './bulk-storage.js';
import type { BulkSettings } from './bulk-settings.js';
import type { ExportJob } from './export-job.js';
import { JobLease, JobLost } from './job-lease.js';
import { runExport } from './export-runner.js';

/** Logging the worker needs (pino's signature); never resources or identifiers. */
export interface WorkerLog {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

const silent: WorkerLog = { info() {}, warn() {}, error() {} };

export class ExportWorker {
  readonly id = `worker-${randomBytes(6).toString('hex')}`;
  private running = new Map<string, { lease: JobLease; done: Promise<void> }>();
  private pollTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private looking: Promise<void> | undefined;
  private wanted = false;

  constructor(
    private readonly deps: { engine: FhirEngine; storage: BulkStorage; settings: BulkSettings; log?: WorkerLog; clock?: () => Date },
  ) {}

  private get log(): WorkerLog {
    return this.deps.log ?? silent;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pollTimer = setInterval(() => this.notify(), this.deps.settings.pollMs);
    this.pollTimer.unref();
    this.sweepTimer = setInterval(() => void this.sweep().catch((error: Error) => this.log.warn({ err: error.message }, 'bulk export: sweep failed')), this.deps.settings.sweepMs);
    this.sweepTimer.unref();
    this.notify();
  }

  /** Looks for work now (a job was queued). */
  notify(): void {
    if (this.stopped || this.deps.settings.workers === 0) return;
    this.wanted = true;
    this.looking ??= this.lookForJobs().finally(() => {
      this.looking = undefined;
    });
  }

  /** Stops taking jobs; the jobs in progress stop at their next resource and are given back for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const { lease } of this.running.values()) lease.stop();
    await this.looking;
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Removes cancelled and expired jobs and their files (status and downloads answer 404 from expiry on anyway). */
  async sweep(): Promise<number> {
    const jobs = await this.deps.storage.jobsToSweep(this.now());
    for (const job of jobs) {
      if (this.running.has(job.id)) continue;
      await this.deps.storage.deleteFiles(job.id);
      await this.deps.storage.deleteJob(job.id);
    }
    return jobs.length;
  }

  private now(): Date {
    return (this.deps.clock ?? (() => new Date()))();
  }

  private async lookForJobs(): Promise<void> {
    while (this.wanted && !this.stopped) {
      this.wanted = false;
      while (!this.stopped && this.running.size < this.deps.settings.workers) {
        let job: ExportJob | undefined;
        try {
          job = await this.deps.storage.claimJob(this.id, this.now(), this.deps.settings.leaseMs);
        } catch (error) {
          this.log.warn({ err: (error as Error).message }, 'bulk export: could not look for jobs');
          return;
        }
        if (!job) break;
        this.begin(job);
      }
    }
  }

  private begin(job: ExportJob): void {
    const { storage, settings } = this.deps;
    const lease = new JobLease(job, storage, this.id, settings.leaseMs, this.deps.clock);
    const done = this.run(lease).finally(() => {
      lease.close();
      this.running.delete(job.id);
      this.notify();
    });
    this.running.set(job.id, { lease, done });
  }

  private async run(lease: JobLease): Promise<void> {
    const job = lease.job;
    const details = { job: job.id, attempt: job.attempts, types: job.types.length };
    if (job.attempts > this.deps.settings.maxAttempts) {
      await this.fail(lease, `it was interrupted ${job.attempts - 1} times without finishing`);
      return;
    }
    this.log.info(details, job.attempts > 1 ? 'bulk export: resuming' : 'bulk export: starting');
    try {
      await runExport(lease, this.deps);
      this.log.info({ ...details, written: lease.job.written, files: lease.job.output.length }, 'bulk export: completed');
    } catch (error) {
      if (error instanceof JobLost) {
        if (error.reason === 'stopping') await lease.release().catch(() => undefined);
        else if (error.reason === 'cancelled') await this.deps.storage.deleteFiles(job.id).catch(() => undefined);
        this.log.info({ ...details, reason: error.reason }, 'bulk export: stopped');
        return;
      }
      this.log.error({ ...details, err: (error as Error).message }, 'bulk export: failed');
      if (lease.job.attempts >= this.deps.settings.maxAttempts) await this.fail(lease, (error as Error).message).catch(() => undefined);
      else await lease.release().catch(() => undefined);
    }
  }

  private async fail(lease: JobLease, reason: string): Promise<void> {
    const now = this.now();
    await lease.update((j) => ({ ...j, status: 'failed', failure: reason, completedAt: now.toISOString(), expiresAt: new Date(now.getTime() + this.deps.settings.retentionMs).toISOString() }));
    await this.deps.storage.deleteFiles(lease.job.id).catch(() => undefined);
  }
}
