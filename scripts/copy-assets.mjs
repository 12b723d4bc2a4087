// Copies the runtime JSON artefacts next to the compiled code (tsc copies only .ts output).
import { chmodSync, cpSync } from 'node:fs';
cpSync('src/fhir/definitions', 'dist/fhir/definitions', { recursive: true });
cpSync('src/validation/definitions', 'dist/validation/definitions', { recursive: true });
// The `relais` command (package.json bin) runs dist/cli.js directly: it must be executable.
chmodSync('dist/cli.js', 0o755);
