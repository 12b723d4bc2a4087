/**
 * What `npm run import` reads: files, or folders (recursively, in name order)
 * of NDJSON (`.ndjson`, `.jsonl`: one resource per line, as a bulk export
 * writes them) and JSON (`.json`: a resource, usually a Bundle), each
 * optionally gzipped (`.gz`). Lines are read as a stream, so a file of any
 * size takes the memory of one line; a JSON file is read whole. A bulk export
 * manifest (manifest.json beside the files) is skipped: it is not data.
 */
import { createReadStream } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync, createGunzip } from 'node:zlib';

export interface ImportItem {
  /** Where it comes from, for the summary: `file:line` or `file`. */
  source: string;
  /** The parsed JSON, or the reason it could not be parsed. */
  value?: unknown;
  parseError?: string;
  /** Bytes of the file it accounts for (progress and ETA). */
  bytes: number;
}

const NDJSON = /\.(ndjson|jsonl)(\.gz)?$/i;
const JSON_FILE = /\.json(\.gz)?$/i;

function isBulkManifest(value: unknown): boolean {
  const v = value as { resourceType?: unknown; transactionTime?: unknown; output?: unknown };
  return !!v && typeof v === 'object' && v.resourceType === undefined && typeof v.transactionTime === 'string' && Array.isArray(v.output);
}

/** The files to import, in order, with their sizes; anything else in a folder is skipped. */
export async function importFiles(paths: readonly string[]): Promise<Array<{ path: string; size: number }>> {
  const found: Array<{ path: string; size: number }> = [];
  const visit = async (path: string, explicit: boolean): Promise<void> => {
    const info = await stat(path);
    if (info.isDirectory()) {
      for (const entry of (await readdir(path)).sort()) await visit(join(path, entry), false);
      return;
    }
    if (NDJSON.test(path) || JSON_FILE.test(path)) found.push({ path, size: info.size });
    else if (explicit) throw new Error(`${path}: not an NDJSON (.ndjson, .jsonl) or JSON (.json) file, optionally .gz`);
  };
  for (const path of paths) await visit(path, true);
  return found;
}

/** The items of one file: one per NDJSON line (blank lines skipped), or the JSON document. */
export async function* readItems(path: string, size: number): AsyncIterable<ImportItem> {
  const gzipped = path.toLowerCase().endsWith('.gz');
  if (JSON_FILE.test(path)) {
    const raw = await readFile(path);
    const text = (gzipped ? gunzipSync(raw) : raw).toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      yield { source: path, parseError: `not valid JSON: ${(error as Error).message}`, bytes: size };
      return;
    }
    // The manifest of a bulk export (or of `npm run export`) beside its files describes them; it is not data.
    if (isBulkManifest(value)) return;
    yield { source: path, value, bytes: size };
    return;
  }
  const file = createReadStream(path);
  let read = 0;
  file.on('data', (chunk) => {
    read += chunk.length;
  });
  const lines = createInterface({ input: gzipped ? file.pipe(createGunzip()) : file, crlfDelay: Infinity });
  let number = 0;
  let accounted = 0;
  for await (const line of lines) {
    number++;
    // Progress in bytes of the file on disk (compressed or not): what was read so far.
    const bytes = Math.max(0, read - accounted);
    accounted += bytes;
    if (line.trim() === '') continue;
    try {
      yield { source: `${path}:${number}`, value: JSON.parse(line), bytes };
    } catch (error) {
      yield { source: `${path}:${number}`, parseError: `not valid JSON: ${(error as Error).message}`, bytes };
    }
  }
}
