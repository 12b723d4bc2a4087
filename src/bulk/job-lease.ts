/**
 * A worker's hold on a job: every change it makes is a compare-and-set on the
 * revision it last wrote, which also extends its lease; a timer extends the
 * lease while a long file is being written. A change that fails means the job
 * was cancelled (or deleted) by its owner, or another process took it over
 * after this one stalled: the worker then stops (`lost`), writing nothing more.
 */
import type { BulkStorage } from './bulk-storage.js';
import type { ExportJob } from './export-job.js';

export class JobLost extends Error {
  constructor(readonly reason: 'cancelled' | 'taken-over' | 'gone' | 'stopping') {
    super(`export job ${reason}`);
    this.name = 'JobLost';
  }
}

export class JobLease {
  private timer: NodeJS.Timeout | undefined;
  private lostReason: JobLost['reason'] | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private current: ExportJob,
    private readonly storage: BulkStorage,
    private readonly worker: string,
    private readonly leaseMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.timer = setInterval(() => void this.update((job) => job).catch(() => undefined), Math.max(50, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  get job(): ExportJob {
    return this.current;
  }

  /** Why the job was lost, once it was; the runner checks this between resources. */
  get lost(): JobLost['reason'] | undefined {
    return this.lostReason;
  }

  /** Stops the worker's work on this job at the next check (server shutdown): the lease is released. */
  stop(): void {
    this.lostReason ??= 'stopping';
  }

  /**
   * Applies `change` to the job in memory only; the next update stores it. For
   * progress not worth a durable write (a type with nothing to export): redone after a crash.
   */
  stage(change: (job: ExportJob) => ExportJob): Promise<void> {
    // In the same queue as updates, so a renewal in flight cannot overwrite it.
    const run = this.chain.then(() => {
      this.current = { ...change(structuredClone(this.current)), revision: this.current.revision };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Applies `change` to the job and stores it, extending the lease; throws JobLost if the job is no longer this worker's. */
  update(change: (job: ExportJob) => ExportJob): Promise<ExportJob> {
    const run = this.chain.then(async () => {
      if (this.lostReason && this.lostReason !== 'stopping') throw new JobLost(this.lostReason);
      const now = this.clock();
      const next: ExportJob = { ...change(structuredClone(this.current)), updatedAt: now.toISOString() };
      if (next.status === 'running') next.lease = { holder: this.worker, until: new Date(now.getTime() + this.leaseMs).toISOString() };
      else delete next.lease;
      if (await this.storage.replaceJob(next, this.current.revision)) {
        this.current = { ...next, revision: this.current.revision + 1 };
        return this.current;
      }
      const stored = await this.storage.getJob(this.current.id);
      this.lostReason = !stored ? 'gone' : stored.status === 'cancelled' ? 'cancelled' : 'taken-over';
      throw new JobLost(this.lostReason);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Gives the job back (server shutdown): still running, its lease already over, so the next worker resumes it at once. */
  async release(): Promise<void> {
    this.close();
    await this.chain;
    const released: ExportJob = { ...this.current, lease: { holder: this.worker, until: new Date(0).toISOString() }, updatedAt: this.clock().toISOString() };
    if (await this.storage.replaceJob(released, this.current.revision)) this.current = { ...released, revision: this.current.revision + 1 };
  }

  /** Ends the hold: no more renewals. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
