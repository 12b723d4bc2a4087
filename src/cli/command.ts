import { ConfigError, loadConfig } from '../config.js';
import { buildContext, type RelaisContext } from '../context.js';

/** What a subcommand of the `relais` command line is: it runs with its arguments and returns the process exit code. */
export interface CliCommand {
  /** One line for `relais help`. */
  summary: string;
  run(args: string[], env: NodeJS.ProcessEnv): Promise<number>;
}

/**
 * Exit codes: 0 done, 1 failed while running, 2 bad usage or bad configuration
 * (the server's convention too: src/server.ts).
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/**
 * The context a store command (import, export, reindex) runs in, built from the server's own
 * environment; a bad configuration is reported as `<command>: <reason>` on stderr and becomes
 * EXIT_USAGE, the server's code for it.
 */
export function commandContext(command: string, env: NodeJS.ProcessEnv): RelaisContext | typeof EXIT_USAGE {
  try {
    return buildContext(loadConfig(env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${command}: ${error.message}\n`);
    return EXIT_USAGE;
  }
}
