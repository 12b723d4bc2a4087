/**
 * One run of the loader: reads the files (import-sources.ts) in order and
 * imports the items of each (resource-import.ts) with a bounded number in
 * flight (the stores group-commit concurrent writes), keeping counts for the
 * progress line and every rejection (where, why) for the final summary.
 */
import type { EngineSession } from '../engine/engine-session.js';
import { importFiles, readItems } from './import-sources.js';
import { ResourceImporter, type ImportResult } from './resource-import.js';

export interface ImportStats {
  files: number;
  totalBytes: number;
  bytesRead: number;
  /** Items read (lines, JSON files). */
  items: number;
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
  startedAt: number;
}

export interface Rejection {
  source: string;
  reason: string;
}

export interface ImportOptions {
  /** Items written at the same time. */
  concurrency?: number;
  /** Called after every item (the CLI redraws its progress line from it, at its own pace). */
  onProgress?: (stats: ImportStats) => void;
}

export async function runImport(session: EngineSession, paths: readonly string[], options: ImportOptions = {}): Promise<{ stats: ImportStats; rejections: Rejection[] }> {
  const files = await importFiles(paths);
  const stats: ImportStats = { files: files.length, totalBytes: files.reduce((n, f) => n + f.size, 0), bytesRead: 0, items: 0, created: 0, updated: 0, unchanged: 0, rejected: 0, startedAt: Date.now() };
  const rejections: Rejection[] = [];
  const importer = new ResourceImporter(session);
  const limit = Math.max(1, options.concurrency ?? 16);
  const inFlight = new Set<Promise<void>>();
  const count = (source: string, results: ImportResult[]) => {
    for (const result of results) {
      if (result.kind === 'rejected') {
        stats.rejected += result.resources;
        rejections.push({ source, reason: result.reason });
      } else stats[result.kind] += result.resources;
    }
    options.onProgress?.(stats);
  };
  let failure: unknown;
  for (const file of files) {
    let accounted = 0;
    for await (const item of readItems(file.path, file.size)) {
      if (failure) break;
      stats.items++;
      stats.bytesRead += item.bytes;
      accounted += item.bytes;
      if (item.parseError) {
        count(item.source, [{ kind: 'rejected', resources: 1, reason: item.parseError }]);
        continue;
      }
      const task = importer.importValue(item.value).then(
        (results) => count(item.source, results),
        (error: unknown) => {
          failure ??= error;
        },
      );
      const tracked = task.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= limit) await Promise.race(inFlight);
    }
    stats.bytesRead += Math.max(0, file.size - accounted);
    // Files are loaded in order (a discharge Bundle's conditional references need the directory loaded before it):
    // the next file starts once this one's writes are done.
    await Promise.all(inFlight);
    if (failure) break;
  }
  await Promise.all(inFlight);
  // A failure that is not the client's (the store stopped, a disk error) ends the run: what is written stays, a rerun continues.
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
  options.onProgress?.(stats);
  return { stats, rejections };
}
