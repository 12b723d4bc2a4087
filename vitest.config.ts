import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Provides the MongoDB test server's URI (or the reason MongoDB tests skip).
    globalSetup: ['test/store/mongo-global-setup.ts'],
    // Crash and multi-process tests spawn servers: keep files from fighting over the 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
