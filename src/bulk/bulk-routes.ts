/**
 * The HTTP side of a bulk export after its kick-off (Bulk Data IG 2.0.0):
 * - GET [base]/bulk-status/[job]: 202 with X-Progress and Retry-After while it
 *   runs; 200 with the manifest (application/json, Expires) once complete; 500
 *   with an OperationOutcome if it failed;
 * - DELETE [base]/bulk-status/[job]: cancels it (202); its status is then 404;
 * - GET [base]/bulk-files/[job]/[file]: an output file, application/fhir+ndjson.
 * Each needs the bearer token of the kick-off's caller (same identity and
 * scopes, job-owner.ts): for anyone else, as for an unknown, expired or
 * cancelled job, the answer is the same 404.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../engine/caller.js';
import { errors } from '../errors.js';
import type { BulkStorage } from './bulk-storage.js';
import type { BulkSettings } from './bulk-settings.js';
import type { ExportJob, JobFile } from './export-job.js';
import { NDJSON } from './export-parameters.js';
import { ownerOf } from './job-owner.js';

export interface BulkRoutesDeps {
  storage: BulkStorage;
  settings: BulkSettings;
  baseUrl: string;
  /** The caller of a request (its verified principal; anonymous without authentication); throws 401 otherwise. */
  callerOf: (request: FastifyRequest) => Caller;
  clock?: () => Date;
}

type JobParams = { job: string; file?: string };

/** The routes, under the FHIR base (their OpenAPI description: src/rest/openapi.ts, given these by app.ts). */
export const BULK_STATUS_ROUTE = '/bulk-status/:job';
export const BULK_FILE_ROUTE = '/bulk-files/:job/:file';

const JOB_ID = /^[0-9a-f]{32}$/;

function progressText(job: ExportJob): string {
  if (job.status === 'queued') return 'queued';
  const type = job.types[job.cursor.typeIndex];
  const done = `${job.written.toLocaleString('en')} resources written`;
  const typeText = type ? `, type ${job.cursor.typeIndex + 1}/${job.types.length} (${type})` : '';
  if (job.estimated && job.estimated > 0) {
    const percent = Math.min(99, Math.floor((job.written / job.estimated) * 100));
    return `${percent}% (${done} of ~${job.estimated.toLocaleString('en')}${typeText})`.slice(0, 99);
  }
  return `in progress (${done}${typeText})`.slice(0, 99);
}

export function registerBulkRoutes(app: FastifyInstance, deps: BulkRoutesDeps): void {
  const { storage, baseUrl } = deps;
  const now = () => (deps.clock ?? (() => new Date()))();

  /** The job if it exists, is live and belongs to the caller; the same 404 otherwise. */
  async function ownJob(request: FastifyRequest<{ Params: JobParams }>): Promise<ExportJob> {
    const caller = deps.callerOf(request);
    const { job: id } = request.params;
    const job = JOB_ID.test(id) ? await storage.getJob(id) : undefined;
    if (!job || job.owner !== ownerOf(caller) || job.status === 'cancelled' || (job.expiresAt !== undefined && job.expiresAt < now().toISOString())) throw errors.exportNotFound();
    return job;
  }

  const fileUrl = (job: ExportJob, file: JobFile) => `${baseUrl}/bulk-files/${job.id}/${file.name}`;
  const manifestFiles = (job: ExportJob, files: JobFile[]) => files.map((file) => ({ type: file.type, url: fileUrl(job, file), count: file.count }));

  app.register(
    async (fhir) => {
      fhir.get(BULK_STATUS_ROUTE, async (request: FastifyRequest<{ Params: JobParams }>, reply: FastifyReply) => {
        const job = await ownJob(request);
        if (job.status === 'failed') throw errors.exportFailed(job.failure ?? 'unknown reason');
        if (job.status !== 'completed') {
          const retryAfter = job.status === 'queued' ? 1 : 2;
          return reply.code(202).header('X-Progress', progressText(job)).header('Retry-After', String(retryAfter)).send();
        }
        const manifest = {
          transactionTime: job.transactionTime,
          request: job.request,
          requiresAccessToken: deps.settings.requiresAccessToken,
          output: manifestFiles(job, job.output),
          ...(job.since !== undefined ? { deleted: manifestFiles(job, job.deleted) } : {}),
          error: manifestFiles(job, job.error),
        };
        if (job.expiresAt) reply.header('Expires', new Date(job.expiresAt).toUTCString());
        return reply.code(200).type('application/json; charset=utf-8').send(JSON.stringify(manifest));
      });

      fhir.delete(BULK_STATUS_ROUTE, async (request: FastifyRequest<{ Params: JobParams }>, reply: FastifyReply) => {
        let job = await ownJob(request);
        // The worker holding it notices at its next write (compare-and-set) and stops; the sweeper removes the files.
        for (let attempt = 0; attempt < 20; attempt++) {
          if (await storage.replaceJob({ ...job, status: 'cancelled', updatedAt: now().toISOString() }, job.revision)) break;
          job = await ownJob(request);
        }
        await storage.deleteFiles(job.id);
        return reply.code(202).send();
      });

      fhir.get(BULK_FILE_ROUTE, async (request: FastifyRequest<{ Params: JobParams }>, reply: FastifyReply) => {
        let job: ExportJob;
        try {
          job = await ownJob(request);
        } catch {
          throw errors.exportFileNotFound();
        }
        const listed = [...job.output, ...job.deleted, ...job.error].some((f) => f.name === request.params.file);
        const file = listed && job.status === 'completed' ? await storage.readFile(job.id, request.params.file!) : undefined;
        if (!file) throw errors.exportFileNotFound();
        return reply.code(200).type(NDJSON).header('Content-Length', String(file.size)).send(file.stream);
      });
    },
    { prefix: '/fhir' },
  );
}
