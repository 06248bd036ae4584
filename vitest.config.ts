import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/js/**/*.test.ts', 'tests/browser/**/*.test.ts'],
    // Forks, so tests can measure the JS heap with --expose-gc.
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'], singleFork: false } },
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
