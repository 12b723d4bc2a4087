/**
 * Opens the store at start-up, retrying while it cannot be reached: a MongoDB
 * deployment still starting, or a connection dropped during the opening
 * (index creation, deployment probe), is retried with exponential backoff and
 * jitter (0.5 s doubling to 30 s) instead of ending the process; the server
 * meanwhile answers /readyz with 503. Any other failure (a corrupt journal, a
 * data folder locked by another process, a refused login) is not transient and
 * is thrown at once.
 */
import { MongoNetworkError, MongoNotConnectedError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';
import type { ResourceStore } from './resource-store.js';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** Errors that mean "the store cannot be reached right now", by driver error class (names are stable across driver versions). */
export function isTransientStoreError(error: unknown): boolean {
  return (
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNetworkError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError
  );
}

export interface OpenRetryOptions {
  /** Give up after this long (0: never). */
  timeoutMs: number;
  /** Called after each failed attempt that will be retried. */
  onRetry?: (attempt: number, error: Error, delayMs: number) => void;
  /** Stops the retries (shutdown during start-up). */
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}

export async function openWithRetry(store: ResourceStore, options: OpenRetryOptions): Promise<void> {
  const sleep = options.sleep ?? sleepFor;
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      await store.open();
      return;
    } catch (error) {
      if (!isTransientStoreError(error)) throw error;
      const elapsed = Date.now() - started;
      if (options.timeoutMs > 0 && elapsed >= options.timeoutMs) throw error;
      const backoff = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1));
      // Full jitter on the upper half, so replicas restarted together do not retry in step.
      const delay = Math.round(backoff / 2 + Math.random() * (backoff / 2));
      options.onRetry?.(attempt, error as Error, delay);
      await sleep(options.timeoutMs > 0 ? Math.min(delay, Math.max(0, options.timeoutMs - elapsed)) : delay, options.signal);
    }
  }
}
