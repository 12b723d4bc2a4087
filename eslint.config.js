// Lint rules that catch bugs, not style (formatting is left as it is: no
// formatter runs over the code base). Type-aware where the bug needs types
// (a promise nobody awaits). `npm test` runs it with --max-warnings 0.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tmp/', 'coverage/', 'data/', 'scripts/hapi-client-check/', 'scripts/hl7-validator/', 'scripts/test-mongo-server/'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: { allowDefaultProject: ['vitest.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    // Directives for rules not enabled here (no-control-regex...) are left alone.
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: {
      // Promises: one left unawaited loses its error (an unhandled rejection) or its ordering.
      // Fastify's instance and reply are thenables by design (plugin queue, reply.send): not awaiting them loses nothing.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafePromises: [
            { from: 'package', name: 'FastifyInstance', package: 'fastify' },
            { from: 'package', name: 'FastifyReply', package: 'fastify' },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // Dead code and slips.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-duplicate-enum-values': 'error',
      'no-self-compare': 'error',
      'no-unsafe-finally': 'error',
      'no-fallthrough': 'error',
      'no-cond-assign': ['error', 'except-parens'],
      'no-dupe-keys': 'error',
      'no-duplicate-case': 'error',
      'no-unreachable': 'error',
      'no-sparse-arrays': 'error',
      'no-template-curly-in-string': 'error',
      'use-isnan': 'error',
      'valid-typeof': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
);
