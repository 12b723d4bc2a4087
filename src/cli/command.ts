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
