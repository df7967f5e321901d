import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers and share PostgreSQL and Redis; two workers fit two cores.
    maxWorkers: 2,
    // No retries: a test that needs one is flaky, and a retry would hide it.
    retry: 0,
  },
});
