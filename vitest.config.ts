import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql 16 ships CommonJS (index.js) and ESM (index.mjs) side by side with no
  // "exports" map: Node loads graphql-yoga's and Pothos' `graphql` as CommonJS, while
  // Vite would resolve the project's own imports to the ESM copy. Two copies break
  // `instanceof GraphQLError` (error masking) and schema realm checks, so the tests
  // load the copy Node loads in production.
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: two spec files at a time, each on its own database.
    maxWorkers: 2,
  },
});
