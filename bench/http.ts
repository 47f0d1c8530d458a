// A small closed-loop HTTP load generator (keep-alive, fixed concurrency) and helpers to
// run the service or a baseline as a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { summarize } from './support.ts';

const ROOT = join(import.meta.dirname, '..');

export interface Served {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `node --import tsx <script>` and waits for the port it reports. */
export function serve(
  script: string,
  env: Record<string, string>,
  portFrom: (line: string) => number | undefined,
): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += String(d);
      for (const line of output.split('\n')) {
        const port = line.trim().startsWith('{') ? portFrom(line) : undefined;
        if (port) {
          child.stdout?.off('data', onData);
          resolve({
            port,
            child,
            stop: () =>
              new Promise<void>((done) => {
                child.once('exit', () => done());
                child.kill('SIGTERM');
              }),
          });
          return;
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d) => {
      output += String(d);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}):\n${output}`)));
  });
}

export function jsonPort(line: string): number | undefined {
  try {
    const parsed = JSON.parse(line) as { port?: number; msg?: string };
    return parsed.port;
  } catch {
    return undefined;
  }
}

export interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  latencyMs: ReturnType<typeof summarize>;
}

/** POSTs `body` as fast as `concurrency` connections allow for `seconds`. */
export async function load(options: {
  port: number;
  body: string;
  headers?: Record<string, string>;
  concurrency: number;
  seconds: number;
}): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + options.seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(
        {
          host: '127.0.0.1',
          port: options.port,
          path: '/graphql',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(options.body),
            ...options.headers,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - t0);
            else errors += 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end(options.body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    requests: latencies.length,
    errors,
    perSecond: Math.round(latencies.length / elapsed),
    latencyMs: summarize(latencies),
  };
}
