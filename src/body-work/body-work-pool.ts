/**
 * Big request bodies are read and checked off the event loop, in a small pool
 * of worker threads: parsing an XML document of several megabytes, and the
 * structure and profile validation and index extraction of a resource of
 * several megabytes, held every other request — /healthz included — for
 * 0.2–1 s each on an idle machine (issue 18, scripts/probe-hostile.ts). Bodies
 * under BODY_WORKER_THRESHOLD_BYTES are still handled in place: sending one to
 * a thread and back costs more than checking it.
 *
 * The pool is piscina (a maintained pool with a task queue, idle-thread
 * expiry and clean shutdown) rather than hand-rolled worker_threads plumbing.
 * Threads start on the first big body and stop after IDLE_TIMEOUT_MS unused;
 * each holds its own copy of the definitions, profiles and search parameters
 * (its cost in memory is in the README's configuration section).
 *
 * If the pool cannot run a task (a thread failed to start or died), the body
 * is checked in place: slower for everyone, but the same answer, never a 5xx.
 */
import { Piscina } from 'piscina';
import type { BigBodyChecks } from '../engine/engine-context.js';
import { FhirError } from '../errors.js';
import type { IndexEntries } from '../store/resource-store.js';
import { reachesSize } from '../engine/json-size.js';
import type { BodyCheckSettings, BodyTask, BodyTaskResult } from './body-checker.js';

/** A thread idle this long stops; the next big body starts one again (about a second of start-up, in the thread). */
const IDLE_TIMEOUT_MS = 5 * 60_000;
/**
 * The threads run at a lower CPU priority than the event loop (piscina's niceIncrement, through its optional
 * @napi-rs/nice; without it, the same priority): on a machine with fewer free cores than runnable threads, a
 * worker parsing 9 MB of XML for seconds otherwise takes CPU from the thread answering every other request.
 */
const NICE_INCREMENT = 10;

export interface BodyWorkOptions {
  /** Threads at most (BODY_WORKERS); 0: every body is handled on the event loop. */
  threads: number;
  /** Bodies at least this big (BODY_WORKER_THRESHOLD_BYTES) go to a thread. */
  thresholdBytes: number;
  settings: BodyCheckSettings;
}

/** The worker module: the compiled one, or, running from the TypeScript sources, a bootstrap that compiles it in the thread. */
function workerFile(): string {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './ts-worker-bootstrap.mjs' : './body-worker.js', here).href;
}

export class BodyWorkPool implements BigBodyChecks {
  /** What the threads did (tests): writes checked, XML documents read (accepted or refused), tasks the pool could not run (then done in place). */
  readonly counts = { write: 0, xml: 0, failed: 0 };
  private pool?: Piscina<BodyTask, BodyTaskResult<unknown>>;
  private closed = false;

  constructor(private readonly options: BodyWorkOptions) {}

  async check(mode: 'create' | 'update', resourceType: string, id: string, body: unknown): Promise<{ index: IndexEntries } | undefined> {
    if (this.options.threads === 0 || !reachesSize(body, this.options.thresholdBytes)) return undefined;
    return (await this.run({ kind: 'write', mode, resourceType, id, body })) as { index: IndexEntries } | undefined;
  }

  /** The JSON form of a big FHIR XML document read by a thread (a malformed one throws its FhirError); undefined: read it in place. */
  async readXml(text: string): Promise<Record<string, unknown> | undefined> {
    if (this.options.threads === 0 || text.length < this.options.thresholdBytes) return undefined;
    return (await this.run({ kind: 'xml', text })) as Record<string, unknown> | undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }

  private async run(task: BodyTask): Promise<unknown> {
    // Closed (shutting down): whatever still arrives is checked in place rather than starting threads again.
    if (this.closed) return undefined;
    this.pool ??= new Piscina({
      filename: workerFile(),
      workerData: this.options.settings,
      minThreads: 0,
      maxThreads: this.options.threads,
      idleTimeout: IDLE_TIMEOUT_MS,
      niceIncrement: NICE_INCREMENT,
    });
    let result: BodyTaskResult<unknown>;
    try {
      result = await this.pool.run(task);
    } catch {
      this.counts.failed++;
      return undefined;
    }
    this.counts[task.kind]++;
    if (!result.ok) throw new FhirError(result.status, result.issues, result.headers);
    return result.value;
  }
}
