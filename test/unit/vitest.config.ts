// The deciders' unit tests alone, without the suite's global setup (no PostgreSQL, no
// Redis): `npx vitest run --config test/unit/vitest.config.ts`. `npm test` runs them too.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: { include: ['test/unit/**/*.test.ts'] },
});
