/**
 * Whether the server can serve FHIR requests yet, and why not. The process
 * listens before its store is open (a port in use is reported before anything
 * is touched), so for a while it is up but not ready: /readyz says so (503,
 * with the phase and the store's connection attempts), and FHIR requests
 * arriving meanwhile wait a few seconds for the store, then get a 503
 * OperationOutcome with Retry-After.
 */
import type { ResourceStore } from '../store/resource-store.js';

export type StartupPhase = 'starting' | 'opening-store' | 'seeding' | 'ready';

export interface ReadinessReport {
  status: 'ready' | 'not-ready';
  phase: StartupPhase;
  store: string;
  /** While opening the store: attempts so far and why the last one failed (the error's kind, not its text). */
  attempts?: number;
  lastFailure?: string;
  retryInSeconds?: number;
}

export class Readiness {
  private phaseNow: StartupPhase = 'starting';
  private failure: { attempts: number; kind: string; retryInMs: number } | undefined;
  private readonly waiting = new Set<() => void>();

  constructor(private readonly store: ResourceStore) {}

  /** A readiness for a store opened before the app was built (tests, tools): ready while the store is. */
  static ofOpenStore(store: ResourceStore): Readiness {
    const readiness = new Readiness(store);
    readiness.phaseNow = 'ready';
    return readiness;
  }

  get phase(): StartupPhase {
    return this.phaseNow;
  }

  /** Started, and the store says it can serve (/readyz). */
  isReady(): boolean {
    return this.phaseNow === 'ready' && this.store.isReady();
  }

  /**
   * Start-up is over. After it, FHIR requests are never held here: a store that
   * later refuses writes (a full disk) still serves reads, and answers its own 503s.
   */
  isStarted(): boolean {
    return this.phaseNow === 'ready';
  }

  enter(phase: StartupPhase): void {
    this.phaseNow = phase;
    if (phase !== 'opening-store') this.failure = undefined;
    if (phase === 'ready') {
      for (const wake of this.waiting) wake();
      this.waiting.clear();
    }
  }

  /** An attempt to open the store failed; another follows in `retryInMs`. */
  storeAttemptFailed(attempts: number, kind: string, retryInMs: number): void {
    this.failure = { attempts, kind, retryInMs };
  }

  /** Resolves true once start-up is over, false after `timeoutMs`. */
  whenStarted(timeoutMs: number): Promise<boolean> {
    if (this.isStarted()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiting.delete(wake);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.waiting.add(wake);
    });
  }

  report(): ReadinessReport {
    return {
      status: this.isReady() ? 'ready' : 'not-ready',
      phase: this.phaseNow,
      store: this.store.capabilities.name,
      ...(this.failure
        ? { attempts: this.failure.attempts, lastFailure: this.failure.kind, retryInSeconds: Math.ceil(this.failure.retryInMs / 1000) }
        : {}),
    };
  }
}
