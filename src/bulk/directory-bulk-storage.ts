/**
 * Bulk export jobs and files on disk, for the embedded store: under
 * `<DATA_DIR>/bulk-export/`, `jobs/<id>.json` and `files/<job>/<name>`. The
 * embedded store's lock already makes one process the only user of DATA_DIR,
 * so jobs are kept in memory too and every change is written through, durably
 * (temporary file, fsync, rename, fsync of the folder), in one queue: a
 * compare-and-set never interleaves with another change.
 *
 * Files are written as `<name>.partial` and renamed once complete and fsynced:
 * a file a crashed worker left half-written is never served, and is replaced
 * when the job resumes.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BulkStorage, FileSink, StoredFile } from './bulk-storage.js';
import type { ExportJob, JobStatus } from './export-job.js';

/** Text buffered before a write to the file: bounds memory per file, and the number of system calls. */
const WRITE_BUFFER_BYTES = 256 * 1024;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

async function fsyncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}

function byAge(a: ExportJob, b: ExportJob): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class DirectoryBulkStorage implements BulkStorage {
  readonly name = 'directory';
  private readonly jobsDir: string;
  private readonly filesDir: string;
  private readonly jobs = new Map<string, ExportJob>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly root: string) {
    this.jobsDir = join(root, 'jobs');
    this.filesDir = join(root, 'files');
  }

  async open(): Promise<void> {
    await mkdir(this.jobsDir, { recursive: true });
    await mkdir(this.filesDir, { recursive: true });
    this.jobs.clear();
    for (const entry of await readdir(this.jobsDir)) {
      if (!entry.endsWith('.json')) continue;
      const job = JSON.parse(await readFile(join(this.jobsDir, entry), 'utf8')) as ExportJob;
      // One process owns DATA_DIR: a lease held before this start belongs to a process that is gone.
      if (job.status === 'running') delete job.lease;
      this.jobs.set(job.id, job);
    }
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  insertJob(job: ExportJob): Promise<void> {
    return this.serially(async () => {
      if (this.jobs.has(job.id)) throw new Error(`bulk job ${job.id} exists`);
      await this.persist(job);
    });
  }

  async getJob(id: string): Promise<ExportJob | undefined> {
    const job = this.jobs.get(id);
    return job ? structuredClone(job) : undefined;
  }

  replaceJob(job: ExportJob, revision: number): Promise<boolean> {
    return this.serially(async () => {
      const current = this.jobs.get(job.id);
      if (!current || current.revision !== revision) return false;
      await this.persist({ ...job, revision: revision + 1 });
      return true;
    });
  }

  async jobsOf(owner: string, statuses: readonly JobStatus[]): Promise<ExportJob[]> {
    return [...this.jobs.values()].filter((j) => j.owner === owner && statuses.includes(j.status)).sort(byAge).map((j) => structuredClone(j));
  }

  claimJob(worker: string, now: Date, leaseMs: number): Promise<ExportJob | undefined> {
    return this.serially(async () => {
      const nowIso = now.toISOString();
      const candidate = [...this.jobs.values()]
        .filter((j) => j.status === 'queued' || (j.status === 'running' && (!j.lease || j.lease.until < nowIso)))
        .sort(byAge)[0];
      if (!candidate) return undefined;
      const claimed: ExportJob = {
        ...candidate,
        status: 'running',
        lease: { holder: worker, until: new Date(now.getTime() + leaseMs).toISOString() },
        attempts: candidate.attempts + 1,
        revision: candidate.revision + 1,
        updatedAt: nowIso,
      };
      await this.persist(claimed);
      return structuredClone(claimed);
    });
  }

  async countJobs(statuses: readonly JobStatus[]): Promise<Partial<Record<JobStatus, number>>> {
    const counts: Partial<Record<JobStatus, number>> = {};
    for (const job of this.jobs.values()) if (statuses.includes(job.status)) counts[job.status] = (counts[job.status] ?? 0) + 1;
    return counts;
  }

  async jobsToSweep(now: Date): Promise<ExportJob[]> {
    const nowIso = now.toISOString();
    return [...this.jobs.values()].filter((j) => j.status === 'cancelled' || (j.expiresAt !== undefined && j.expiresAt < nowIso)).map((j) => structuredClone(j));
  }

  deleteJob(id: string): Promise<void> {
    return this.serially(async () => {
      await rm(join(this.jobsDir, `${id}.json`), { force: true });
      this.jobs.delete(id);
    });
  }

  async createFile(jobId: string, name: string): Promise<FileSink> {
    const folder = this.folderOf(jobId);
    if (!SAFE_NAME.test(name)) throw new Error(`unsafe bulk file name '${name}'`);
    await mkdir(folder, { recursive: true });
    const final = join(folder, name);
    const partial = `${final}.partial`;
    await rm(final, { force: true });
    const handle = await open(partial, 'w');
    let buffered: string[] = [];
    let bufferedBytes = 0;
    let size = 0;
    let closed = false;
    const flush = async () => {
      if (bufferedBytes === 0) return;
      const text = buffered.join('');
      buffered = [];
      bufferedBytes = 0;
      await handle.write(text);
    };
    return {
      async write(text: string) {
        const bytes = Buffer.byteLength(text);
        buffered.push(text);
        bufferedBytes += bytes;
        size += bytes;
        if (bufferedBytes >= WRITE_BUFFER_BYTES) await flush();
      },
      async finish() {
        await flush();
        await handle.sync();
        await handle.close();
        closed = true;
        await rename(partial, final);
        await fsyncFolder(folder);
        return size;
      },
      async abort() {
        if (!closed) await handle.close();
        closed = true;
        await rm(partial, { force: true });
      },
    };
  }

  async readFile(jobId: string, name: string): Promise<StoredFile | undefined> {
    if (!SAFE_NAME.test(name) || name.endsWith('.partial')) return undefined;
    const path = join(this.folderOf(jobId), name);
    try {
      const { size } = await stat(path);
      return { stream: createReadStream(path), size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async deleteFiles(jobId: string): Promise<void> {
    await rm(this.folderOf(jobId), { recursive: true, force: true });
  }

  private folderOf(jobId: string): string {
    if (!SAFE_NAME.test(jobId)) throw new Error(`unsafe bulk job id '${jobId}'`);
    return join(this.filesDir, jobId);
  }

  private async persist(job: ExportJob): Promise<void> {
    await writeDurably(join(this.jobsDir, `${job.id}.json`), JSON.stringify(job));
    await fsyncFolder(this.jobsDir);
    this.jobs.set(job.id, structuredClone(job));
  }

  /** Runs job changes one after the other (each is a read-compare-write across awaits). */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.queue.then(change, change);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
