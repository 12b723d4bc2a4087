/**
 * The embedded store under storage faults, on real filesystems (root mounts a
 * small tmpfs and a loop device; CI and development machines run as root):
 *
 * - full disk (ENOSPC, a 3 MiB tmpfs): a write that could not be made durable
 *   is refused with 503 + Retry-After, never acknowledged; reads go on; /readyz
 *   (isReady) is false; once space is freed the store writes again by itself;
 *   after a restart every acknowledged write is there, exactly.
 * - read-only filesystem (EROFS, the tmpfs remounted read-only): the store opens
 *   read-only, serves reads, refuses writes with 503, and switches to writing by
 *   itself once the filesystem is writable again.
 * - I/O error (EIO, ext4 on a loop device whose backing tmpfs fills up; ext4 then
 *   turns the filesystem read-only): refused with 503, reads go on, and after the
 *   repair (fsck) and a restart every acknowledged write is there.
 * - no file descriptor left (EMFILE): the open store needs no new descriptor, so
 *   writes are still acknowledged and durable; opening a store fails cleanly.
 *
 * Every fault is also a check that nothing the store runs in the background
 * stops the process: an unhandled rejection fails the test run.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import { FhirError } from '../../src/errors.js';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';

const run = (command: string, args: string[]) => spawnSync(command, args, { encoding: 'utf8' });
const isRoot = process.getuid?.() === 0;
const canMount = (() => {
  if (!isRoot) return false;
  const probe = mkdtempSync(join(tmpdir(), 'relais-mount-probe-'));
  const ok = run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status === 0;
  if (ok) run('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();
// A free loop device too (`losetup -f` names one, or fails when there is none).
const canLoop = canMount && ['losetup', 'mkfs.ext4', 'e2fsck'].every((tool) => run('sh', ['-c', `command -v ${tool}`]).status === 0) && run('losetup', ['-f']).status === 0;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function mountTmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'relais-fault-'));
  const mounted = run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (mounted.status !== 0) throw new Error(`mount: ${mounted.stderr}`);
  cleanups.push(() => {
    run('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A patient whose text does not compress (so it really takes room on disk). */
function patient(id: string, family: string): Patient {
  return { resourceType: 'Patient', id, name: [{ family }], text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${randomBytes(1500).toString('base64')}</div>` } };
}

interface Acknowledged {
  id: string;
  versionId: number;
  family: string;
}

async function write(store: EmbeddedStore, id: string, family: string, acknowledged: Acknowledged[]): Promise<FhirError | undefined> {
  try {
    const [version] = await store.write([{ kind: 'put', resourceType: 'Patient', id, resource: patient(id, family), index: { family: [{ v: family.toLowerCase(), e: family }] } }]);
    acknowledged.push({ id, versionId: version.versionId, family });
    return undefined;
  } catch (error) {
    if (error instanceof FhirError) return error;
    throw error;
  }
}

/** Every acknowledged write is readable with its exact version and content. */
async function expectAllThere(store: EmbeddedStore, acknowledged: Acknowledged[]): Promise<void> {
  for (const write of acknowledged) {
    const version = await store.readVersion('Patient', write.id, write.versionId);
    expect(version?.resource, `${write.id}/${write.versionId}`).toMatchObject({ name: [{ family: write.family }], meta: { versionId: String(write.versionId) } });
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function expect503(error: FhirError | undefined, retryAfter: string): void {
  expect(error).toBeInstanceOf(FhirError);
  expect(error!.status).toBe(503);
  expect(error!.headers['Retry-After']).toBe(retryAfter);
  expect(error!.issues[0].code).toBe('transient');
}

describe.skipIf(!canMount)('embedded store on a full disk (tmpfs)', () => {
  it('never acknowledges what it could not write, answers 503 with Retry-After, keeps reading, and writes again once space is freed', async () => {
    const dir = mountTmpfs('3m');
    const ballast = join(dir, 'ballast');
    writeFileSync(ballast, randomBytes(768 * 1024));
    const dataDir = join(dir, 'data');
    let store = new EmbeddedStore({ directory: dataDir, probeIntervalMs: 50, retryAfterSeconds: 7 });
    await store.open();
    cleanups.push(() => store.close());
    const acknowledged: Acknowledged[] = [];
    let refused: FhirError | undefined;
    // Concurrent creates and updates (group-committed) until the disk is full.
    for (let round = 0; round < 500 && !refused; round++) {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => write(store, `p${(round * 8 + i) % 40}`, `F${round}x${i}`, acknowledged)));
      refused = results.find((r) => r !== undefined);
    }
    expect503(refused, '7');
    // lmdb-js reports the failed page write as ENOSPC, or as EIO when the write came up short.
    expect(refused!.issues[0].diagnostics).toMatch(/ENOSPC|EIO|MDB_MAP_FULL/);
    expect(acknowledged.length).toBeGreaterThan(50);
    expect(store.isReady()).toBe(false);
    // While full: writes are refused at once, reads and searches go on.
    expect503(await write(store, 'late', 'Late', acknowledged), '7');
    await expectAllThere(store, acknowledged);
    const last = acknowledged.at(-1)!;
    const found = await store.search({ resourceTypes: ['Patient'], filter: { 'idx.family': { $elemMatch: { v: last.family.toLowerCase() } } }, offset: 0, count: 5, withTotal: true });
    expect(found.versions.map((v) => v.id)).toContain(last.id);
    expect((await store.history({ resourceType: 'Patient', offset: 0, count: 0 })).total).toBe(acknowledged.length);

    rmSync(ballast);
    await until(() => store.isReady());
    expect(await write(store, 'after', 'After', acknowledged)).toBeUndefined();

    await store.close();
    store = new EmbeddedStore({ directory: dataDir });
    await store.open();
    await expectAllThere(store, acknowledged);
    expect((await store.history({ resourceType: 'Patient', offset: 0, count: 0 })).total).toBe(acknowledged.length);
  }, 60_000);
});

describe.skipIf(!canMount)('a full disk over HTTP', () => {
  it('answers writes 503 with Retry-After and an OperationOutcome, reads 200, /readyz 503, then 200 again once space is freed', async () => {
    const dir = mountTmpfs('3m');
    const ballast = join(dir, 'ballast');
    writeFileSync(ballast, randomBytes(768 * 1024));
    const config = loadConfig({ DATA_DIR: join(dir, 'data'), BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'none' });
    const ctx = buildContext(config);
    await ctx.store.open();
    const app = await buildApp(ctx, { logger: false });
    cleanups.push(() => app.close());
    const json = { 'content-type': 'application/fhir+json' };
    let created = 0;
    let refusal: Awaited<ReturnType<typeof app.inject>> | undefined;
    for (let i = 0; i < 2000 && !refusal; i++) {
      const response = await app.inject({ method: 'POST', url: '/fhir/Patient', headers: json, payload: JSON.stringify(patient(`x${i}`, `Http${i}`)) });
      if (response.statusCode === 201) created++;
      else refusal = response;
    }
    expect(created).toBeGreaterThan(10);
    expect(refusal?.statusCode).toBe(503);
    expect(refusal?.headers['retry-after']).toBe('5');
    expect(refusal?.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient' }] });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    const search = await app.inject({ method: 'GET', url: '/fhir/Patient?_count=1&_total=accurate' });
    expect(search.statusCode, search.body).toBe(200);
    expect(search.json().total).toBe(created);
    // Paging too: the snapshot behind the next link could not go to disk, the store kept it in memory.
    const next = (search.json().link as Array<{ relation: string; url: string }>).find((l) => l.relation === 'next')!;
    const page2 = await app.inject({ method: 'GET', url: next.url.replace('http://relais.test', '') });
    expect(page2.statusCode).toBe(200);
    expect(page2.json().entry).toHaveLength(1);

    rmSync(ballast);
    await until(() => ctx.store.isReady());
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/fhir/Patient', headers: json, payload: JSON.stringify({ resourceType: 'Patient' }) })).statusCode).toBe(201);
  }, 60_000);
});

describe.skipIf(!canMount)('embedded store on a read-only filesystem', () => {
  it('opens read-only, serves reads, refuses writes with 503, and writes again by itself once the filesystem is writable', async () => {
    const dir = mountTmpfs('8m');
    const dataDir = join(dir, 'data');
    let store = new EmbeddedStore({ directory: dataDir });
    await store.open();
    const acknowledged: Acknowledged[] = [];
    for (let i = 0; i < 20; i++) expect(await write(store, `p${i}`, `Before${i}`, acknowledged)).toBeUndefined();
    await store.close();
    expect(run('mount', ['-o', 'remount,ro', dir]).status).toBe(0);

    store = new EmbeddedStore({ directory: dataDir, probeIntervalMs: 50, retryAfterSeconds: 3 });
    await store.open();
    cleanups.push(() => store.close());
    expect(store.isReady()).toBe(false);
    await expectAllThere(store, acknowledged);
    const refused = await write(store, 'p0', 'Refused', acknowledged);
    expect503(refused, '3');
    expect(refused!.issues[0].diagnostics).toMatch(/EROFS|EACCES/);
    // Searching, paging snapshots included, works meanwhile.
    const page = await store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 5, withTotal: true });
    expect(page.total).toBe(20);
    await store.saveResultSet('cursor-ro', 'me', page.versions.map((v) => ({ resourceType: v.resourceType, id: v.id })));
    expect((await store.loadResultSet('cursor-ro', 'me', 0, 5))?.total).toBe(5);

    expect(run('mount', ['-o', 'remount,rw', dir]).status).toBe(0);
    await until(() => store.isReady());
    expect(await write(store, 'p0', 'After', acknowledged)).toBeUndefined();
    expect(existsSync(join(dataDir, 'relais.lock'))).toBe(true);

    await store.close();
    store = new EmbeddedStore({ directory: dataDir });
    await store.open();
    await expectAllThere(store, acknowledged);
    expect((await store.readCurrent('Patient', 'p0'))?.versionId).toBe(2);
  }, 60_000);
});

describe.skipIf(!canLoop)('embedded store on a disk that fails with I/O errors (ext4 on a loop device)', () => {
  it('refuses with 503 from the first failed commit, keeps reading, and has every acknowledged write after repair and restart', async () => {
    const backing = mountTmpfs('24m');
    const image = join(backing, 'disk.img');
    expect(run('truncate', ['-s', '64M', image]).status).toBe(0);
    expect(run('mkfs.ext4', ['-q', '-F', image]).status).toBe(0);
    const mountPoint = mkdtempSync(join(tmpdir(), 'relais-eio-'));
    const mountIt = () => expect(run('mount', ['-o', 'loop,errors=continue', image, mountPoint]).status).toBe(0);
    mountIt();
    cleanups.push(() => {
      run('umount', ['-l', mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    });
    const dataDir = join(mountPoint, 'data');
    let store = new EmbeddedStore({ directory: dataDir, probeIntervalMs: 50 });
    await store.open();
    const acknowledged: Acknowledged[] = [];
    for (let i = 0; i < 10; i++) expect(await write(store, `p${i}`, `Before${i}`, acknowledged)).toBeUndefined();
    // The loop device's backing store fills up: its writes fail, ext4 sees I/O errors.
    const ballast = join(backing, 'ballast');
    run('dd', ['if=/dev/zero', `of=${ballast}`, 'bs=1M', 'count=100']);
    let refused: FhirError | undefined;
    for (let i = 0; i < 200 && !refused; i++) refused = await write(store, `q${i % 30}`, `During${i}`, acknowledged);
    expect503(refused, '5');
    expect(refused!.issues[0].diagnostics).toMatch(/EIO|EROFS|ENOSPC/);
    expect(store.isReady()).toBe(false);
    await expectAllThere(store, acknowledged);

    // Repair: free the backing store, check the filesystem, mount it again, restart.
    await store.close();
    expect(run('umount', [mountPoint]).status).toBe(0);
    rmSync(ballast);
    expect(run('e2fsck', ['-fy', image]).status).toBeLessThanOrEqual(1); // 0: clean, 1: errors corrected
    mountIt();
    store = new EmbeddedStore({ directory: dataDir });
    await store.open();
    cleanups.push(() => store.close());
    await expectAllThere(store, acknowledged);
    expect(await write(store, 'after', 'After', acknowledged)).toBeUndefined();
  }, 60_000);
});

describe('embedded store without file descriptors left (EMFILE)', () => {
  it('keeps acknowledging durable writes with the descriptors it holds; opening another store fails cleanly', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relais-emfile-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let store = new EmbeddedStore({ directory: dataDir });
    await store.open();
    const acknowledged: Acknowledged[] = [];
    for (let i = 0; i < 5; i++) expect(await write(store, `p${i}`, `Before${i}`, acknowledged)).toBeUndefined();

    const other = mkdtempSync(join(tmpdir(), 'relais-emfile-other-'));
    cleanups.push(() => rmSync(other, { recursive: true, force: true }));
    mkdirSync(join(other, 'data'));
    const held: number[] = [];
    let opening: unknown;
    try {
      for (;;) held.push(openSync('/dev/null', 'r'));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe('EMFILE');
    }
    try {
      for (let i = 0; i < 5; i++) expect(await write(store, `p${i}`, `During${i}`, acknowledged)).toBeUndefined();
      opening = await new EmbeddedStore({ directory: join(other, 'data') }).open().then(() => 'opened', (error: unknown) => error);
    } finally {
      for (const fd of held) closeSync(fd);
    }
    expect((opening as NodeJS.ErrnoException).code).toBe('EMFILE');
    expect(existsSync(join(other, 'data', 'relais.lock'))).toBe(false);
    const later = new EmbeddedStore({ directory: join(other, 'data') });
    await later.open();
    await later.close();

    await store.close();
    store = new EmbeddedStore({ directory: dataDir });
    await store.open();
    await expectAllThere(store, acknowledged);
    await store.close();
  }, 60_000);
});
