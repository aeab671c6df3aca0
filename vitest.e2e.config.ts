import { defineConfig } from 'vitest/config';

// End-to-end and packaging tests: real processes, a real browser; one file at a time.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts', 'test/packaging/**/*.test.ts'],
    environment: 'node',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
