#!/usr/bin/env node
/**
 * The `relais` command line (package.json `bin`; `node dist/cli.js` in the
 * image, `npm run relais -- <command>` from a clone):
 *
 *   relais serve                 start the FHIR server (also with no command)
 *   relais token --role ...      print a development bearer token
 *   relais register-client ...   register a backend-services client (dev token endpoint)
 *   relais reindex [Type...]     recompute the search index
 *   relais import <paths...>     load NDJSON files and Bundles (validated), rejections listed
 *   relais export --out <dir>    write the store to NDJSON files and a manifest.json
 *
 * Commands are looked up in one table and loaded on demand (a token is minted
 * without loading the server). A new command is one more line in COMMANDS.
 */
import { EXIT_USAGE, type CliCommand } from './cli/command.js';

const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  serve: async () => (await import('./server.js')).serveCommand,
  token: async () => (await import('./cli/token-command.js')).tokenCommand,
  'register-client': async () => (await import('./cli/register-client-command.js')).registerClientCommand,
  reindex: async () => (await import('./cli/reindex-command.js')).reindexCommand,
  import: async () => (await import('./cli/import-command.js')).importCommand,
  export: async () => (await import('./cli/export-command.js')).exportCommand,
};

async function help(): Promise<string> {
  const lines = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => `  ${name.padEnd(16)} ${(await load()).summary}`));
  return `usage: relais <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name = 'serve', ...args] = argv;
  if (name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(await help());
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    process.stderr.write(`relais: unknown command '${name}'\n${await help()}`);
    return EXIT_USAGE;
  }
  return (await load()).run(args, process.env);
}

main(process.argv.slice(2)).then(
  (code) => {
    // `serve` keeps running (its server holds the event loop) and exits on its own signals.
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`relais: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
