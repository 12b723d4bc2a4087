/**
 * The architecture rules CI checks (npm test runs `depcruise src`), from issue 11:
 * - the FHIR engine knows nothing of who decides access, how it is audited,
 *   how callers authenticate or how HTTP works: it calls the access guard
 *   through its own interface (src/engine/access-guard.ts) and is entered through
 *   sessions naming their caller;
 * - no cycle between the top-level folders of src/ (each folder is one job;
 *   a cycle would make two of them one);
 * - the engine's interaction functions (which take a raw EngineContext) are
 *   reached only through the engine's sessions, or by the access guard that
 *   enforces them, never by the rest of the server.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'engine-knows-no-policy',
      severity: 'error',
      comment: 'The engine calls access and audit through its hook points (src/engine/access-guard.ts); it must not import them, nor authentication, HTTP, operations or workflows.',
      from: { path: '^src/engine/' },
      to: { path: '^src/(access|audit|auth|rest|operations|coordination|subscriptions|bulk)/' },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment: 'The top-level folders of src/ depend on each other in one direction only.',
      scope: 'folder',
      from: { path: '^src/[^/]+$' },
      to: { path: '^src/[^/]+$', circular: true },
    },
    {
      name: 'interactions-through-sessions',
      severity: 'error',
      comment: 'Data is reached through an engine session (FhirEngine.as / asServer): only the engine and the access guard enforcing it call the interaction functions directly.',
      from: { path: '^src/', pathNot: '^src/(engine|access|audit)/' },
      to: { path: '^src/engine/interactions/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
