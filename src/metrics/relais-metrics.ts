/**
 * The Prometheus metrics of one Relais process (prom-client), built once in
 * the context and passed to whoever records or exposes them (no global
 * registry: each test app has its own). Every label has a bounded set of
 * values, so the number of series cannot grow with traffic:
 *
 * - relais_http_requests_total{interaction, resource_type, status_class}
 *   interaction: a FHIR interaction (read, search-type, create, transaction...),
 *   an operation ($validate...), or the route of a non-FHIR endpoint
 *   (/healthz, /auth/token...), "unrouted" otherwise; resource_type: an R4
 *   type or "" ; status_class: 2xx..5xx.
 * - relais_http_request_duration_seconds{interaction, status_class}: latency
 *   histogram (no resource type: 146 types x the buckets would be most of the
 *   series for little insight; the counter has it).
 * - relais_store_write_duration_seconds{store, outcome}: a durable store write
 *   (for the embedded store, the group commit including its fsync; for
 *   MongoDB, the write with its write concern), outcome ok | conflict | error.
 * - relais_store_read_duration_seconds{store, operation}: read, search, history.
 * - relais_validation_duration_seconds{stage}: structure (R4) or profiles.
 * - relais_queue_depth{queue, state}: items waiting in a background worker's
 *   queue, read at each scrape from the readers registered with
 *   registerQueueDepth(): subscription-notifications (committed, not yet
 *   delivered; no state), bulk-export-jobs (state queued | running). Queue names
 *   and states are fixed in code. Where the queue lives in MongoDB, every process
 *   reports the deployment's depth (aggregate with max, not sum).
 * - process and Node.js metrics (heap, event loop lag, GC...) of the serving
 *   process (collectProcessMetrics(), called by `relais serve`).
 */
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { AggregatedCounter, AggregatedHistogram } from './aggregated-series.js';

/** A queue's depth, or its depth by state (a few fixed states), or undefined when its worker is not running. */
export type QueueDepth = number | Readonly<Record<string, number>> | undefined;
export type QueueDepthReader = () => QueueDepth | Promise<QueueDepth>;

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

/** Seconds; from 1 ms (a cached read) to 30 s (REQUEST_TIMEOUT_MS). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export function statusClassOf(status: number): StatusClass {
  return STATUS_CLASSES[Math.min(5, Math.max(1, Math.floor(status / 100)))];
}

export class RelaisMetrics {
  readonly registry = new Registry();
  // The series counted on every request (each answer, each store read) count in place, looked up by
  // their label values (aggregated-series.ts: prom-client's own inc/observe were 7-10 % of a read, issue 17).
  readonly httpRequests = new AggregatedCounter({
    name: 'relais_http_requests_total',
    help: 'HTTP requests answered, by FHIR interaction (or route), resource type and status class',
    labelNames: ['interaction', 'resource_type', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new AggregatedHistogram({
    name: 'relais_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its response, by FHIR interaction (or route) and status class',
    labelNames: ['interaction', 'status_class'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly storeWriteDuration = new Histogram({
    name: 'relais_store_write_duration_seconds',
    help: 'Durable store writes (embedded: group commit with fsync; MongoDB: with its write concern), by outcome',
    labelNames: ['store', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly storeReadDuration = new AggregatedHistogram({
    name: 'relais_store_read_duration_seconds',
    help: 'Store reads: read (one resource or version), search, history',
    labelNames: ['store', 'operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly validationDuration = new Histogram({
    name: 'relais_validation_duration_seconds',
    help: 'Validation of a resource: R4 structure, then profiles',
    labelNames: ['stage'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly queueReaders = new Map<string, QueueDepthReader>();
  private processMetrics = false;

  constructor() {
    const readers = this.queueReaders;
    new Gauge({
      name: 'relais_queue_depth',
      help: 'Items waiting in a background queue: subscription notifications not yet delivered; bulk export jobs queued or running',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [queue, read] of readers) {
          let depth: QueueDepth;
          try {
            depth = await read();
          } catch {
            // Its storage is unreachable now (MongoDB down): the series is missing from this scrape, the scrape still answers.
            continue;
          }
          if (typeof depth === 'number') this.set({ queue }, depth);
          else if (depth) for (const [state, value] of Object.entries(depth)) this.set({ queue, state }, value);
        }
      },
    });
  }

  /**
   * For background workers: `read` is called at each scrape and its value
   * exposed as relais_queue_depth{queue} (a number) or relais_queue_depth{queue, state}
   * (one per state of the record). One name per queue and fixed states, in code
   * (e.g. "subscription-notifications", "bulk-export-jobs"). A reader answering
   * undefined (its worker is not running yet) or failing leaves the series out of that scrape.
   */
  registerQueueDepth(queue: string, read: QueueDepthReader): void {
    if (this.queueReaders.has(queue)) throw new Error(`queue depth '${queue}' is already registered`);
    this.queueReaders.set(queue, read);
  }

  /** Node.js process metrics (heap, event loop lag, GC, file descriptors), for the serving process only. */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry, prefix: 'relais_' });
  }

  /** Starts a timer; call the result with the labels once the work is done. */
  static timer(): () => number {
    const started = process.hrtime.bigint();
    return () => Number(process.hrtime.bigint() - started) / 1e9;
  }

  contentType(): string {
    return this.registry.contentType;
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
