/**
 * Kept for the tests and scripts that import mintDevToken from here: the
 * command is `relais token` (src/cli/token-command.ts), `npm run -s token -- ...`
 * from a clone.
 */
export { mintDevToken, type MintOptions } from '../src/cli/token-command.js';
