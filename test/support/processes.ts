// Parallax as a real child process (the same entry point users run), for crash and
// multi-process tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { TEST_JWT_SECRET } from './app.ts';

const ROOT = join(import.meta.dirname, '../..');

export interface ParallaxProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnParallax(env: Record<string, string>): ParallaxProcess {
  // node itself with tsx as a loader: one process, so SIGKILL kills the service, not
  // only a wrapper (the tsx CLI runs the program in a child process).
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'warn', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited };
}

/** `database`: a DATABASE_URL, or the environment naming the databases (a test app's `databaseEnv`). */
export function spawnProjector(
  database: string | Record<string, string>,
  env: Record<string, string> = {},
): ParallaxProcess {
  const databases = typeof database === 'string' ? { DATABASE_URL: database } : database;
  return spawnParallax({ ROLE: 'projector', ...databases, PROJECTION_POLL_MS: '200', ...env });
}

export async function waitForOutput(proc: ParallaxProcess, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output.join('').includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in output:\n${proc.output.join('')}`);
    if (proc.child.exitCode !== null) throw new Error(`exited (${proc.child.exitCode}):\n${proc.output.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The port a process logged in its "listening" line (LOG_LEVEL info). */
export async function listeningPort(proc: ParallaxProcess): Promise<number> {
  await waitForOutput(proc, '"msg":"listening"');
  const line = proc.output
    .join('')
    .split('\n')
    .find((l) => l.includes('"msg":"listening"'))!;
  return JSON.parse(line).port as number;
}

/**
 * The Parallax processes one spec file starts. Each is tracked from the moment it is
 * spawned, so `killAll` in afterAll ends whatever a failed test left running.
 */
export class SpawnedProcesses {
  private readonly all: ParallaxProcess[] = [];

  /** An API process (ROLE api, logging at info for its port) and the port it listens on. */
  async api(env: Record<string, string>): Promise<{ proc: ParallaxProcess; port: number }> {
    const proc = this.track(spawnParallax({ LOG_LEVEL: 'info', ...env, ROLE: 'api' }));
    return { proc, port: await listeningPort(proc) };
  }

  /** A projector process, once it has logged `started` (env needs LOG_LEVEL info). */
  async projector(
    database: string | Record<string, string>,
    env: Record<string, string>,
    started = 'projection engine started',
  ): Promise<ParallaxProcess> {
    const proc = this.track(spawnProjector(database, env));
    await waitForOutput(proc, started);
    return proc;
  }

  /** SIGKILLs every tracked process that is still running. */
  killAll(): void {
    for (const p of this.all) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }

  private track(proc: ParallaxProcess): ParallaxProcess {
    this.all.push(proc);
    return proc;
  }
}
