/**
 * Kept for the tests and scripts that import registerClient from here: the
 * command is `relais register-client` (src/cli/register-client-command.ts),
 * `npm run -s register-client -- ...` from a clone.
 */
export { registerClient } from '../src/cli/register-client-command.js';
