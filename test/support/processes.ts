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

export function spawnProjector(databaseUrl: string, env: Record<string, string> = {}): ParallaxProcess {
  return spawnParallax({ ROLE: 'projector', DATABASE_URL: databaseUrl, PROJECTION_POLL_MS: '200', ...env });
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
