// Running from the TypeScript sources (tsx, vitest), a worker thread does not inherit the
// loader that compiles them: this registers tsx in the worker, then loads the worker itself.
// The built server (dist/) runs dist/body-work/body-worker.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
const { default: run } = await import('./body-worker.ts');
export default run;
