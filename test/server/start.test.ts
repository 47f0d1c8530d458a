// `npm start` with nothing configured: the real entry point in a child process, on the
// embedded PostgreSQL in a fresh data directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/db/embedded.ts';
import { postAsAdmin } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '../..');
const SEEDED_SKUS = ['CB-HDMI-2M', 'HD-USB-C', 'KB-MECH-01', 'LT-DESK-LED', 'MN-27-4K', 'MS-ERGO-02'];
// Guards against hanging forever; they assert nothing about speed.
const START_GUARD_MS = 90_000;
const STOP_GUARD_MS = 30_000;

interface Running {
  child: ChildProcess;
  base: string;
  output: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  tokens: { admin: string; support: string; customer: string };
}

const running = new Set<Running>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function healthy(base: string): Promise<boolean> {
  try {
    return (await fetch(`${base}/health`)).ok;
  } catch {
    return false;
  }
}

async function start(dataDir: string): Promise<Running> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), PARALLAX_DATA_DIR: dataDir };
  for (const name of ['DATABASE_URL', 'JWT_SECRET', 'REDIS_URL', 'ROLE', 'NODE_ENV', 'HOST']) delete env[name];
  // Its own process group, so a hung start can be ended as a whole (tsx runs node as a child).
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let exited = false;
  void exit.then(() => {
    exited = true;
  });
  const base = `http://localhost:${port}`;
  const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
  const instance: Running = { child, base, output, exit, tokens: { admin: '', support: '', customer: '' } };
  running.add(instance);

  const deadline = Date.now() + START_GUARD_MS;
  for (;;) {
    if (exited) throw new Error(`parallax exited during start-up\n${output()}`);
    if (Date.now() > deadline) throw new Error(`parallax did not start\n${output()}`);
    const banner = /^\s+customer:\s+\S+/m.test(stdout);
    if (banner && (await healthy(base))) break;
    await sleep(200);
  }
  const token = (role: string) => new RegExp(`^\\s+${role}:\\s+(\\S+)`, 'm').exec(stdout)?.[1] ?? '';
  instance.tokens = { admin: token('admin'), support: token('support'), customer: token('customer') };
  return instance;
}

/** Sends SIGINT and expects a clean exit (code 0) within the guard. */
async function expectCleanStop(instance: Running): Promise<void> {
  instance.child.kill('SIGINT');
  const result = await Promise.race([instance.exit, sleep(STOP_GUARD_MS).then(() => null)]);
  if (!result) throw new Error(`parallax did not exit after SIGINT\n${instance.output()}`);
  running.delete(instance);
  expect(result, instance.output()).toEqual({ code: 0, signal: null });
}

async function products(instance: Running): Promise<string[]> {
  const response = await postAsAdmin(`${instance.base}/graphql`, instance.tokens.admin, {
    query: '{ products { sku } }',
  });
  const body = (await response.json()) as { data?: { products: { sku: string }[] }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data!.products.map((p) => p.sku).sort();
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  const file = join(dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(file)) return null;
  return Number((await readFile(file, 'utf8')).split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('starting Parallax with no configuration', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'parallax-start-'));
  });

  afterAll(async () => {
    // Only after a failure is anything still running: end what this file started.
    for (const instance of running) {
      if (instance.child.pid) {
        try {
          process.kill(-instance.child.pid, 'SIGINT');
        } catch {}
      }
      await Promise.race([instance.exit, sleep(10_000)]);
      if (instance.child.exitCode === null && instance.child.pid) {
        try {
          process.kill(-instance.child.pid, 'SIGKILL');
        } catch {}
      }
    }
    const pid = await postmasterPid(dataDir);
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGINT');
      for (let i = 0; i < 50 && alive(pid); i++) await sleep(200);
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs on embedded PostgreSQL, serves GraphiQL with the admin token, prints sample tokens and stops cleanly on SIGINT', async () => {
    const app = await start(dataDir);
    const stdout = app.output();

    expect(stdout).toContain(`${app.base}/graphql`);
    expect(decodeJwt(app.tokens.admin)).toMatchObject({ role: 'admin' });
    expect(decodeJwt(app.tokens.support)).toMatchObject({ role: 'support' });
    expect(decodeJwt(app.tokens.customer)).toMatchObject({ role: 'customer', customerId: expect.any(String) });
    expect(stdout).toContain('seeded the demo catalogue');

    const graphiql = await fetch(`${app.base}/graphql`, { headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(graphiql.headers.get('content-type')).toMatch(/text\/html/);
    const page = await graphiql.text();
    expect(page).toMatch(/graphiql/i);
    expect(page).toContain(`Bearer ${app.tokens.admin}`);

    expect(await products(app)).toEqual(SEEDED_SKUS);

    const postgres = await postmasterPid(dataDir);
    expect(postgres).not.toBeNull();
    await expectCleanStop(app);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    expect(alive(postgres!)).toBe(false);
  });

  it('reuses the data directory on a second start without seeding it again', async () => {
    const app = await start(dataDir);
    expect(app.output()).not.toContain('seeded the demo catalogue');
    expect(await products(app)).toEqual(SEEDED_SKUS);
    await expectCleanStop(app);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});
