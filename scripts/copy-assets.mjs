// Copies the runtime JSON artefacts next to the compiled code (tsc copies only .ts output).
import { cpSync } from 'node:fs';
cpSync('src/fhir/definitions', 'dist/fhir/definitions', { recursive: true });
cpSync('src/validation/definitions', 'dist/validation/definitions', { recursive: true });
