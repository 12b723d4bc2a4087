/**
 * What the embedded store does while its storage cannot take writes: every write
 * is refused at once with a 503 + Retry-After (nothing half-done, nothing
 * acknowledged), reads go on, and a small durable probe write is retried every
 * `probeIntervalMs` until one succeeds; then writes are accepted again, with no
 * restart. `/readyz` reports not-ready meanwhile (ResourceStore.isReady).
 *
 * The probe runs on an unref'd timer and catches everything: no background task
 * of the store can stop the process.
 */
import { errors } from '../../errors.js';
import { commitCause, storageFault, type StorageFault } from './storage-faults.js';

export interface WriteGateOptions {
  /** A tiny durable write; resolves once committed. */
  probe: () => Promise<void>;
  probeIntervalMs: number;
  retryAfterSeconds: number;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export class WriteGate {
  private fault: StorageFault | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: WriteGateOptions) {}

  /** The fault writes are refused for, if any. */
  get refusal(): StorageFault | undefined {
    return this.fault;
  }

  /** Throws the 503 while writes are refused. */
  check(): void {
    if (this.fault) throw errors.storeCannotWrite(this.fault.code, this.options.retryAfterSeconds);
  }

  /** Starts refused (a store opened on a folder it cannot write), probing until writes succeed. */
  refuseFromStart(fault: StorageFault): void {
    this.options.log.warn({ code: fault.code }, 'embedded store: the data folder cannot be written; serving reads only until it can');
    this.fault = fault;
    this.schedule();
  }

  /**
   * A commit failed with `cause` (see storage-faults.ts): a storage fault starts the refusal and
   * is answered with the 503; anything else is returned unchanged.
   */
  failed(cause: unknown): unknown {
    const fault = storageFault(cause);
    if (!fault) return cause;
    if (!this.fault) {
      this.options.log.warn({ code: fault.code }, 'embedded store: storage fault, refusing writes until a probe write succeeds');
      this.fault = fault;
      this.schedule();
    }
    return errors.storeCannotWrite(fault.code, this.options.retryAfterSeconds);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.probe(), this.options.probeIntervalMs);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    this.timer = undefined;
    try {
      await this.options.probe();
      if (this.closed) return;
      this.options.log.info({ code: this.fault?.code }, 'embedded store: writes succeed again');
      this.fault = undefined;
    } catch (error) {
      try {
        const fault = storageFault(await commitCause(error));
        if (fault) this.fault = fault;
      } catch {
        // keep the current fault
      }
      this.schedule();
    }
  }
}
