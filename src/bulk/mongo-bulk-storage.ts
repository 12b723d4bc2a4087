/**
 * Bulk export jobs and files in MongoDB, next to the resources: jobs in the
 * `bulkjobs` collection (compare-and-set on `revision`, leases claimed with one
 * findOneAndUpdate, so two instances never run the same job), files in the
 * GridFS bucket `bulkfiles` (chunks of 255 KiB: no file size limit, streamed
 * both ways). Every Relais instance sharing the database answers any job's
 * status and serves its files.
 *
 * A file's GridFS id is "<job>/<name>": a worker that resumes a job after
 * another died mid-file deletes that id's chunks (the files document of an
 * unfinished upload does not exist yet) before writing it again.
 */
import { GridFSBucket, MongoClient, type Collection, type Db, type W } from 'mongodb';
import type { BulkStorage, FileSink, StoredFile } from './bulk-storage.js';
import type { ExportJob, JobStatus } from './export-job.js';

type JobDocument = Omit<ExportJob, 'id'> & { _id: string };

export interface MongoBulkStorageOptions {
  uri: string;
  database: string;
  writeConcern?: { w: W; journal: boolean; wtimeoutMS: number };
  serverSelectionTimeoutMS?: number;
}

const BUCKET = 'bulkfiles';

function jobOf(doc: JobDocument): ExportJob {
  const { _id, ...rest } = doc;
  return { id: _id, ...rest };
}

function documentOf(job: ExportJob): JobDocument {
  const { id, ...rest } = job;
  return { _id: id, ...rest };
}

export class MongoBulkStorage implements BulkStorage {
  readonly name = 'mongodb';
  private readonly client: MongoClient;
  private db!: Db;
  private jobs!: Collection<JobDocument>;
  private bucket!: GridFSBucket;

  constructor(private readonly options: MongoBulkStorageOptions) {
    this.client = new MongoClient(options.uri, {
      writeConcern: options.writeConcern ?? { w: 'majority', journal: true, wtimeoutMS: 10_000 },
      readPreference: 'primary',
      ignoreUndefined: true,
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000,
      appName: 'relais-bulk',
    });
  }

  async open(): Promise<void> {
    await this.client.connect();
    this.db = this.client.db(this.options.database);
    this.jobs = this.db.collection<JobDocument>('bulkjobs');
    this.bucket = new GridFSBucket(this.db, { bucketName: BUCKET });
    await this.jobs.createIndexes([
      { key: { owner: 1, status: 1, createdAt: 1 }, name: 'owner_status_createdAt' },
      { key: { status: 1, createdAt: 1 }, name: 'status_createdAt' },
      { key: { expiresAt: 1 }, name: 'expiresAt' },
    ]);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async insertJob(job: ExportJob): Promise<void> {
    await this.jobs.insertOne(documentOf(job));
  }

  async getJob(id: string): Promise<ExportJob | undefined> {
    const doc = await this.jobs.findOne({ _id: id });
    return doc ? jobOf(doc) : undefined;
  }

  async replaceJob(job: ExportJob, revision: number): Promise<boolean> {
    const result = await this.jobs.replaceOne({ _id: job.id, revision }, documentOf({ ...job, revision: revision + 1 }));
    return result.matchedCount === 1;
  }

  async jobsOf(owner: string, statuses: readonly JobStatus[]): Promise<ExportJob[]> {
    const docs = await this.jobs.find({ owner, status: { $in: [...statuses] } }).sort({ createdAt: 1, _id: 1 }).toArray();
    return docs.map(jobOf);
  }

  async claimJob(worker: string, now: Date, leaseMs: number): Promise<ExportJob | undefined> {
    const nowIso = now.toISOString();
    const doc = await this.jobs.findOneAndUpdate(
      { $or: [{ status: 'queued' }, { status: 'running', 'lease.until': { $lt: nowIso } }, { status: 'running', lease: { $exists: false } }] },
      {
        $set: { status: 'running', lease: { holder: worker, until: new Date(now.getTime() + leaseMs).toISOString() }, updatedAt: nowIso },
        $inc: { attempts: 1, revision: 1 },
      },
      { sort: { createdAt: 1, _id: 1 }, returnDocument: 'after' },
    );
    return doc ? jobOf(doc) : undefined;
  }

  async countJobs(statuses: readonly JobStatus[]): Promise<Partial<Record<JobStatus, number>>> {
    // Answered from the status_createdAt index; shared by every process, so each reports the deployment's depth.
    const groups = await this.jobs.aggregate<{ _id: JobStatus; n: number }>([{ $match: { status: { $in: [...statuses] } } }, { $group: { _id: '$status', n: { $sum: 1 } } }]).toArray();
    return Object.fromEntries(groups.map((g) => [g._id, g.n]));
  }

  async jobsToSweep(now: Date): Promise<ExportJob[]> {
    const docs = await this.jobs.find({ $or: [{ status: 'cancelled' }, { expiresAt: { $lt: now.toISOString() } }] }).toArray();
    return docs.map(jobOf);
  }

  async deleteJob(id: string): Promise<void> {
    await this.jobs.deleteOne({ _id: id });
  }

  async createFile(jobId: string, name: string): Promise<FileSink> {
    const fileId = `${jobId}/${name}`;
    await this.removeFile(fileId);
    const upload = this.bucket.openUploadStreamWithId(fileId as never, name, { metadata: { job: jobId } });
    let size = 0;
    const failed = new Promise<never>((_, reject) => upload.once('error', reject));
    failed.catch(() => undefined);
    return {
      async write(text: string) {
        size += Buffer.byteLength(text);
        if (!upload.write(text)) await Promise.race([new Promise((resolve) => upload.once('drain', resolve)), failed]);
      },
      async finish() {
        await Promise.race([new Promise<void>((resolve) => upload.end(() => resolve())), failed]);
        return size;
      },
      abort: async () => {
        await upload.abort().catch(() => undefined);
        await this.removeFile(fileId);
      },
    };
  }

  async readFile(jobId: string, name: string): Promise<StoredFile | undefined> {
    const fileId = `${jobId}/${name}`;
    const doc = await this.db.collection<{ _id: string; length: number }>(`${BUCKET}.files`).findOne({ _id: fileId });
    if (!doc) return undefined;
    return { stream: this.bucket.openDownloadStream(fileId as never), size: doc.length };
  }

  async deleteFiles(jobId: string): Promise<void> {
    const files = await this.db.collection<{ _id: string }>(`${BUCKET}.files`).find({ 'metadata.job': jobId }, { projection: { _id: 1 } }).toArray();
    for (const file of files) await this.removeFile(file._id);
    // Chunks of uploads that never finished (no files document): their ids start with the job's.
    await this.db.collection(`${BUCKET}.chunks`).deleteMany({ files_id: { $regex: `^${jobId.replace(/[^A-Za-z0-9_-]/g, '')}/` } });
  }

  /** A GridFS file and its chunks, whether or not its upload finished. */
  private async removeFile(fileId: string): Promise<void> {
    await this.db.collection(`${BUCKET}.files`).deleteOne({ _id: fileId as never });
    await this.db.collection(`${BUCKET}.chunks`).deleteMany({ files_id: fileId as never });
  }
}
