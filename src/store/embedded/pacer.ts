/**
 * Lets a long read (a search testing thousands of candidates, a filtered
 * history) give the event loop a turn every SLICE_MS, so that no request waits
 * behind it for longer than that. The read keeps its LMDB snapshot across the
 * turns (an explicit read transaction, see document-reader.ts), so what it
 * returns is still one consistent state.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

const SLICE_MS = 10;

export class Pacer {
  private sliceStart = performance.now();
  private calls = 0;

  /**
   * Call once per item; yields when the current slice is used up. The clock is read every 8 calls:
   * at 1,000,000 resources under a memory limit an item can cost a millisecond (its pages faulted
   * in), and 64 of them between two reads of the clock made 60 ms slices (measured, bench-search).
   */
  async pace(): Promise<void> {
    if ((++this.calls & 7) !== 0) return;
    await this.paceCostly();
  }

  /** Call after each costly step (planning a whole type): reads the clock every time. */
  async paceCostly(): Promise<void> {
    if (performance.now() - this.sliceStart < SLICE_MS) return;
    await nextTurn();
    this.sliceStart = performance.now();
  }
}
