import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers and share PostgreSQL and Redis; two workers fit two cores.
    maxWorkers: 2,
    // In CI only: one retry for the timing-bound integration tests (propagation, rate within 5%,
    // kill -9 under load) on a 2-core machine. Assertions stay as strict; a test failing twice fails.
    retry: process.env.CI ? 1 : 0,
  },
});
