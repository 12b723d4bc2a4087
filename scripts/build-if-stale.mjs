#!/usr/bin/env node
/**
 * `npm start` builds only when something the build reads changed since the
 * last build: the sources (src/), the TypeScript settings, the asset copier
 * and the lockfile, compared by modification time with the stamp the last
 * successful build left in dist/. A start with nothing changed then costs a
 * directory walk (tens of milliseconds) instead of a full tsc run (~15 s on
 * two cores).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'scripts/copy-assets.mjs', 'package-lock.json'];

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const sourcesChanged = inputs.filter((p) => existsSync(join(root, p))).reduce((latest, p) => Math.max(latest, newest(join(root, p))), 0);
if (existsSync(stamp) && statSync(stamp).mtimeMs >= sourcesChanged) process.exit(0);

// The stamp carries the time the build started: a file saved during the build triggers the next one.
const started = new Date();
const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath, 'run', 'build']] : ['npm', ['run', 'build']];
const build = spawnSync(npm[0], npm[1], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
writeFileSync(stamp, `${started.toISOString()}\n`);
utimesSync(stamp, started, started);
