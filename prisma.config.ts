import { defineConfig } from 'prisma/config';

// Prisma 7 reads no .env by itself; the CLI (migrate deploy) takes DATABASE_URL from the environment.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
});
