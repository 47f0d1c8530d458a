// A small closed-loop HTTP load generator (keep-alive, fixed concurrency) and helpers to
// run the service or a baseline as a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { TokenService } from '../src/auth/jwt.ts';
import { benchChildren, summarize } from './support.ts';

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
  // BENCH_SERVICE_NODE_ARGS: extra node flags for the service, e.g. "--cpu-prof --cpu-prof-dir=prof".
  const nodeArgs = process.env.BENCH_SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  benchChildren.add(child);
  child.once('exit', () => benchChildren.delete(child));
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
                stopping = true;
                child.once('exit', () => done());
                child.kill('SIGTERM');
              }),
          });
          return;
        }
      }
    };
    child.stdout?.on('data', onData);
    // Warnings and errors (stderr, and stdout lines at level ≥ 40) stay visible after start.
    child.stderr?.on('data', (d) => {
      output += String(d);
      process.stderr.write(`[${script}] ${String(d)}`);
    });
    let stopping = false;
    child.stdout?.on('data', (d: Buffer) => {
      for (const line of String(d).split('\n')) {
        if (/"level":(4|5|6)\d/.test(line)) process.stderr.write(`[${script}] ${line.slice(0, 2000)}\n`);
      }
    });
    child.once('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`[${script}] exited unexpectedly (${code ?? signal})\n`);
      reject(new Error(`${script} exited (${code}):\n${output}`));
    });
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

/**
 * The service (`src/main.ts`) in its own process on `databaseUrl`, production mode, any
 * free port. Every benchmark client is one subject, so the per-subject mutation limit is
 * raised out of the way (the limiter still runs on every mutation).
 */
export function serveService(
  databaseUrl: string,
  jwtSecret: string,
  env: Record<string, string> = {},
): Promise<Served> {
  return serve(
    'src/main.ts',
    {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: jwtSecret,
      PORT: '0',
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      MUTATION_RATE_LIMIT: '1000000',
      ...env,
    },
    (line) => (line.includes('"listening"') ? jsonPort(line) : undefined),
  );
}

/** An admin token the service started with `jwtSecret` accepts. */
export function benchToken(jwtSecret: string): Promise<string> {
  return new TokenService(jwtSecret).sign({ sub: 'bench', role: 'admin' });
}

export interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  latencyMs: ReturnType<typeof summarize>;
  /** The load generator's own CPU (this process) as a share of the machine's cores over the run. */
  generatorCpuShare?: number;
}

/**
 * POSTs `body` as fast as `concurrency` connections allow for `seconds` (closed loop:
 * each connection sends its next request when the previous answer arrived). `body` may
 * be a function (a new body per request); `ok` may reject a 200 answer by its text.
 */
export async function load(options: {
  port: number;
  body: string | ((n: number) => string);
  headers?: Record<string, string>;
  concurrency: number;
  seconds: number;
  ok?: (text: string) => boolean;
}): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + options.seconds * 1000;
  let sent = 0;
  const { ok } = options;
  const one = () =>
    new Promise<void>((resolve) => {
      const body = typeof options.body === 'string' ? options.body : options.body(sent);
      sent += 1;
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
            'content-length': Buffer.byteLength(body),
            ...options.headers,
          },
        },
        (res) => {
          let text = '';
          if (ok) res.on('data', (d: Buffer) => (text += String(d)));
          else res.resume();
          res.on('end', () => {
            if (res.statusCode === 200 && (!ok || ok(text))) latencies.push(performance.now() - t0);
            else errors += 1;
            resolve();
          });
          res.on('error', () => {
            errors += 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end(body);
    });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  agent.destroy();
  return {
    requests: latencies.length,
    errors,
    perSecond: Math.round(latencies.length / elapsed),
    latencyMs: summarize(latencies),
    generatorCpuShare: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed / cpus().length) * 100) / 100,
  };
}

/** User + system CPU time of a process so far (ms). */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** POSTs a GraphQL body with a bearer token; resolves with the response text. */
export function post(port: number, agent: Agent, body: string, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += String(d);
        });
        res.on('end', () => resolve(text));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
