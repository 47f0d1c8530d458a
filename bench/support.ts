// Shared by the benchmarks: a PostgreSQL server (DATABASE_URL's, or a throwaway embedded
// one), a fresh migrated database per benchmark, and an App on it.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import type { App } from '../src/app.ts';
import { TokenService } from '../src/auth/jwt.ts';
import { createMemoryBus } from '../src/bus/memory.ts';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createApp } from '../src/runtime.ts';

/** Every child process a benchmark started (service, load generators): killed at the end of the run. */
export const benchChildren = new Set<ChildProcess>();

export interface BenchServer {
  url: string;
  version: string;
  stop(): Promise<void>;
}

export async function startBenchServer(): Promise<BenchServer> {
  let url = process.env.DATABASE_URL;
  let stop = async () => {};
  if (!url) {
    const dir = await mkdtemp(join(tmpdir(), 'parallax-bench-'));
    const embedded = await startEmbeddedPostgres({ dir, persistent: false, database: 'postgres' });
    url = embedded.url;
    stop = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const version = (await client.query('SHOW server_version')).rows[0].server_version as string;
  await client.end();
  return { url, version, stop };
}

export async function freshDatabase(server: BenchServer): Promise<string> {
  const name = `parallax_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return url.toString();
}

export function benchApp(databaseUrl: string, env: Record<string, string> = {}, poolSize = 20): App {
  const config = loadConfig({
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATABASE_URL: databaseUrl,
    ...env,
  });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  // Idle connections see the server stop at the end of a run; that is not an error.
  pool.on('error', () => {});
  return createApp({
    config,
    pool,
    log: pino({ level: 'warn' }),
    tokens: new TokenService(config.jwtSecret!, config.jwt),
    bus: createMemoryBus(),
  });
}

export async function closeApp(app: App): Promise<void> {
  await app.engine?.stop();
  await app.prisma.$disconnect();
  await app.pool.end();
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function summarize(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

export function machine(server: BenchServer) {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: server.version,
  };
}

export interface BenchContext {
  server: BenchServer;
  smoke: boolean;
  /** Figures earlier benchmarks of the same run measured, for the ones that build on them. */
  shared: SharedFigures;
}

export interface SharedFigures {
  /** `write`: the service's highest sustained createOrder rate (commands/s). */
  maxWriteRate?: number;
  /** `lag`: the worst per-projection p99 (ms) at 70% of that rate. */
  lagP99Ms?: number;
}

/**
 * One row of the summary table (and of `summary` in results.json): the figure, the
 * baseline measured in the same run (null where there is none), their ratio, the goal
 * and whether it was met.
 */
export interface SummaryRow {
  row: string;
  figure: string;
  baseline: string | null;
  ratio: number | null;
  goal: string;
  met: boolean;
  load: string;
}

export interface Benchmark {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<Record<string, unknown> & { summary?: SummaryRow[] }>;
}

export const round2 = (n: number) => Math.round(n * 100) / 100;
