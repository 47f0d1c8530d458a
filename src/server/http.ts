// The HTTP front door: /graphql (yoga), /health, /ready, /metrics and the /ops page.
// Request bodies are read here with a hard size limit before GraphQL sees them.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { YogaServerInstance } from 'graphql-yoga';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { App } from '../app.ts';
import { type Migration, readMigrations } from '../db/migrate.ts';
import { type Pools, poolsOf, separate } from '../db/pools.ts';
import { pgSql, type Sql } from '../db/sql.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { SOCKET_BUFFER_BYTES, type SseChannel, type SseFrame } from '../graphql/delivery.ts';
import { requestScope } from '../graphql/yoga.ts';
import { ZERO_POSITION } from '../outbox/position.ts';
import { lagAfter } from '../outbox/reader.ts';
import { lastAudits } from '../projections/audit.ts';
import { readCheckpoints } from '../projections/checkpoints.ts';
import { parkedSummaries } from '../projections/parking.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../projections/projection.ts';
import { idleMsOf } from '../projections/status.ts';
import type { ReplicaStatus } from '../read/replicas.ts';

/** Why a readiness check failed; the body never carries error text (it is logged instead). */
export type ReadyCode =
  | 'DATABASE_UNAVAILABLE'
  | 'DATABASE_ERROR'
  | 'MIGRATIONS_MISSING'
  | 'PROJECTION_STALLED'
  | 'PROJECTION_LAGGING'
  | 'PROJECTION_NOT_RUNNING'
  | 'EVENTS_UNACCOUNTED'
  | 'PROJECTION_PARKED'
  | 'READ_REPLICA_OUT_OF_ROTATION';

export interface ReadyCheck {
  ready: boolean;
  /** `warning`: the check passes but names something an operator should look at (parked events). */
  checks: Record<string, { ok: boolean; code?: ReadyCode; warning?: boolean; detail?: unknown }>;
}

export interface HttpOptions {
  yoga?: YogaServerInstance<object, GraphQLContext>;
  ready: () => Promise<ReadyCheck>;
  /** /ready answers 503 DATABASE_UNAVAILABLE when its checks take longer (default 5 s). */
  readyTimeoutMs?: number;
}

/**
 * The readiness checks, or a failed database check once `timeoutMs` have passed: a
 * probe always gets an answer, also while PostgreSQL accepts connections but does not
 * answer them (starting, shutting down, a network partition).
 */
function readyWithin(check: () => Promise<ReadyCheck>, timeoutMs: number): Promise<ReadyCheck> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ReadyCheck>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          ready: false,
          checks: { database: { ok: false, code: 'DATABASE_UNAVAILABLE', detail: { timeoutMs } } },
        }),
      timeoutMs,
    );
  });
  return Promise.race([check(), timedOut]).finally(() => clearTimeout(timer));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Answers that arrive over time (SSE, incremental delivery): written chunk by chunk. */
const STREAMED = /^\s*(text\/event-stream|multipart\/)/i;

/** After SLOW_CONSUMER, how long a stalled SSE client has to read its last frames before it is cut. */
const SLOW_CONSUMER_GRACE_MS = 10_000;

/** Resolves when the stream can take more, or is gone. */
function drained(stream: Writable): Promise<void> {
  if (!stream.writableNeedDrain || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/**
 * An SSE response the delivery engine writes its frames to directly: once the head is
 * out, a chunked response's frames go to the socket already chunk-encoded (one buffer
 * per change for every subscriber, one socket write each). Frames written before the
 * head is sent wait for `open`.
 */
class SseResponse implements SseChannel {
  private pending: SseFrame[] | null = [];
  private waiting: (() => void) | undefined;
  /** The socket, when frames are written to it directly (a chunked HTTP/1.1 response). */
  private socket: Socket | undefined;

  constructor(private readonly res: ServerResponse) {}

  private get target(): Writable {
    return this.socket ?? this.res;
  }

  write(frame: SseFrame): boolean {
    if (this.res.destroyed || this.res.writableEnded) return true;
    if (this.pending) {
      this.pending.push(frame);
      return this.pending.length < 64;
    }
    if (this.socket) this.socket.write(frame.chunked());
    else this.res.write(frame.raw());
    return this.target.writableLength < SOCKET_BUFFER_BYTES;
  }

  onDrain(callback: () => void): void {
    if (this.pending) this.waiting = callback;
    else void drained(this.target).then(callback);
  }

  /** The head is written: frames go straight out from now on. */
  open(): void {
    this.res.flushHeaders();
    const socket = this.res.socket;
    if (this.res.chunkedEncoding && socket && !socket.destroyed) this.socket = socket;
    const pending = this.pending ?? [];
    this.pending = null;
    for (const frame of pending) this.write(frame);
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) void drained(this.target).then(waiting);
  }

  closeSoon(): void {
    setTimeout(() => {
      if (!this.res.writableFinished) this.res.destroy();
    }, SLOW_CONSUMER_GRACE_MS).unref();
  }
}

async function serveGraphQL(
  app: App,
  yoga: YogaServerInstance<object, GraphQLContext>,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Promise<void> {
  const limit = app.config.maxRequestBytes;
  if ((req.url?.length ?? 0) > limit) {
    sendJson(res, 414, { errors: [{ message: 'request URL too long', extensions: { code: 'REQUEST_TOO_LARGE' } }] });
    return;
  }
  let body: Buffer | undefined;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    try {
      body = await readBody(req, limit);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      req.resume();
      sendJson(
        res,
        413,
        { errors: [{ message: `request body over ${limit} bytes`, extensions: { code: 'REQUEST_TOO_LARGE' } }] },
        { connection: 'close' },
      );
      return;
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const controller = new AbortController();
  // Abort only what the client left before it was answered (a stream, a slow operation):
  // aborting every finished request would raise an AbortError each time for nothing.
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const sse = /text\/event-stream/i.test(req.headers.accept ?? '') ? new SseResponse(res) : undefined;
  const response = await yoga.fetch(
    `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    { method: req.method, headers, body, signal: controller.signal },
    { sse },
  );
  const outHeaders: Record<string, string> = { 'x-request-id': requestId };
  response.headers.forEach((value, name) => {
    outHeaders[name] = value;
  });
  if (!STREAMED.test(response.headers.get('content-type') ?? '')) {
    // A complete answer (JSON, GraphiQL, an error): one write, with its length.
    const text = await response.text();
    if (!response.headers.has('content-length')) outHeaders['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(response.status, outHeaders);
    res.end(text);
    return;
  }
  res.writeHead(response.status, outHeaders);
  sse?.open();
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => {
    reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // Backpressure: a client that does not read holds the stream, not the server's memory.
      if (!res.write(value)) await drained(res);
    }
  } catch {
    // The client went away mid-stream; nothing more to send.
  }
  res.end();
}

const OPS_PAGE = join(import.meta.dirname, '../ops/page.html');
let opsPage: string | undefined;

/**
 * The ops page: static, no secret in it (the admin token is typed in or passed in the
 * URL fragment, which never reaches the server). Its one inline script and style run
 * under a per-response nonce; it may only talk to this origin.
 */
function serveOps(res: ServerResponse): void {
  opsPage ??= readFileSync(OPS_PAGE, 'utf8');
  const nonce = randomBytes(16).toString('base64');
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'content-security-policy': [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  });
  res.end(opsPage.replaceAll('__NONCE__', nonce));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Without METRICS_TOKEN anyone who reaches the port may scrape (keep it internal then). */
function metricsAllowed(token: string | undefined, header: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer\s+(\S+)$/i.exec(header?.trim() ?? '');
  // Digests of equal length: the comparison takes the same time whatever was sent.
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

export function createHttpServer(app: App, options: HttpOptions): Server {
  return createServer((req, res) => {
    const requestId = (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || randomUUID();
    const path = (req.url ?? '/').split('?')[0];
    requestScope.run({ requestId }, async () => {
      try {
        if (path === '/health') {
          sendJson(res, 200, { status: 'ok', role: app.config.role });
        } else if (path === '/ready') {
          const report = await readyWithin(options.ready, options.readyTimeoutMs ?? 5_000);
          sendJson(res, report.ready ? 200 : 503, report);
        } else if (path === '/metrics') {
          if (!metricsAllowed(app.config.metricsToken, req.headers.authorization)) {
            sendJson(
              res,
              401,
              { error: 'a bearer token (METRICS_TOKEN) is required', code: 'UNAUTHENTICATED' },
              { 'www-authenticate': 'Bearer realm="metrics"' },
            );
            return;
          }
          const { contentType, body } = await app.metrics.render();
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        } else if (path === '/ops' && options.yoga && (req.method === 'GET' || req.method === 'HEAD')) {
          serveOps(res);
        } else if (path === '/graphql' && options.yoga) {
          await serveGraphQL(app, options.yoga, req, res, requestId);
        } else {
          sendJson(res, 404, { error: 'not found' });
        }
      } catch (error) {
        app.log.error({ err: error, requestId }, 'request failed');
        if (!res.headersSent) {
          sendJson(res, 500, {
            errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } }],
          });
        } else res.end();
      }
    });
  });
}

export interface ReadinessOptions {
  /** Not ready while a projection's oldest unapplied event is older than this (READY_MAX_LAG_MS). */
  maxLagMs?: number;
  /**
   * Not ready while a projection has events waiting and has committed no batch for this
   * long, counted from its last batch or its oldest waiting event, whichever is later
   * (READY_MAX_IDLE_MS): a runner that stopped is not healthy.
   */
  maxIdleMs?: number;
  /** Where a failed check's error goes (the /ready body carries only its code). */
  log?: Logger;
  /** The read replicas (read/replicas.ts): one out of rotation is a warning, the primary serves. */
  replicas?: () => ReplicaStatus[];
}

let expectedMigrations: Promise<Migration[]> | undefined;

/**
 * Ready: the database answers, every migration this code ships is applied, no
 * projection is STALLED, none lags more than `maxLagMs`, none has had events waiting
 * with no batch for more than `maxIdleMs`, and the no-skip audit found every event
 * accounted for. Parked events are a warning (`checks.parked`), not a failure: the
 * projection goes on for everything else. The body says which
 * check failed, with a code and names (missing migrations, stalled or lagging
 * projections), never an error text: /ready answers without a token, and projection
 * errors or database messages can quote customer data or internals. Those go to the
 * log and to the admin-only `projections` query.
 */
export async function readiness(pool: Pools | pg.Pool, options: ReadinessOptions = {}): Promise<ReadyCheck> {
  const maxLagMs = options.maxLagMs ?? 60_000;
  const maxIdleMs = options.maxIdleMs ?? 30_000;
  const checks: ReadyCheck['checks'] = {};
  const pools = poolsOf(pool);
  try {
    // Checkpoints and bookkeeping are in the read database; lag is measured on the write database's outbox.
    const sql = pgSql(pools.read);
    const outbox = pgSql(pools.write);
    // A deployment without the migrations folder cannot tell: it checks nothing then.
    expectedMigrations ??= readMigrations().catch(() => []);
    const appliedIn = (db: Sql) =>
      db.query<{ migration_name: string }>(
        'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
      );
    // With a separate read database each side's migrations are checked in its own database.
    const split = separate(pools);
    const [expected, appliedWrite, appliedRead] = await Promise.all([
      expectedMigrations,
      appliedIn(outbox),
      split ? appliedIn(sql) : Promise.resolve([]),
    ]);
    checks.database = { ok: true };
    const names = (rows: { migration_name: string }[]) => new Set(rows.map((r) => r.migration_name));
    const [inWrite, inRead] = [names(appliedWrite), names(appliedRead)];
    const missing = expected
      .filter((m) => !(split && m.side === 'read' ? inRead : inWrite).has(m.name))
      .map((m) => m.name);
    checks.migrations = missing.length ? { ok: false, code: 'MIGRATIONS_MISSING', detail: { missing } } : { ok: true };

    const checkpoints = await readCheckpoints(sql);
    const stalled = checkpoints.filter((c) => c.state === 'STALLED');
    checks.projections = stalled.length
      ? { ok: false, code: 'PROJECTION_STALLED', detail: stalled.map((c) => ({ name: c.name, state: c.state })) }
      : { ok: true, detail: [] };
    const lagging = [];
    const idle = [];
    for (const name of PROJECTION_NAMES) {
      // No checkpoint yet (no projector has started): the projection is at the start.
      const checkpoint = checkpoints.find((c) => c.name === name);
      const lag = await lagAfter(outbox, checkpoint?.position ?? ZERO_POSITION);
      if (lag.ms > maxLagMs) lagging.push({ name, lagMs: lag.ms, lagEvents: lag.events });
      const idleMs = idleMsOf(lag, checkpoint?.lastBatchAt ?? null);
      if (checkpoint?.state !== 'STALLED' && idleMs > maxIdleMs) idle.push({ name, idleMs, lagEvents: lag.events });
    }
    checks.lag = lagging.length
      ? { ok: false, code: 'PROJECTION_LAGGING', detail: { maxLagMs, lagging } }
      : { ok: true, detail: { maxLagMs, lagging } };
    checks.running = idle.length
      ? { ok: false, code: 'PROJECTION_NOT_RUNNING', detail: { maxIdleMs, idle } }
      : { ok: true, detail: { maxIdleMs, idle } };
    const audits = await lastAudits(sql);
    const unaccounted = [...audits]
      .filter(([name, a]) => PROJECTION_NAMES.includes(name as ProjectionName) && a.unaccounted !== 0)
      .map(([name, a]) => ({ name, unaccounted: a.unaccounted, auditedAt: a.auditedAt }));
    checks.audit = unaccounted.length
      ? { ok: false, code: 'EVENTS_UNACCOUNTED', detail: unaccounted }
      : { ok: true, detail: [] };
    const parked = [...(await parkedSummaries(sql))].map(([name, p]) => ({ name, ...p }));
    checks.parked = parked.length
      ? { ok: true, warning: true, code: 'PROJECTION_PARKED', detail: parked }
      : { ok: true, detail: [] };
    const replicas = options.replicas?.();
    if (replicas?.length) {
      // Names and lag only: an error text could name hosts.
      const out = replicas.filter((r) => !r.inRotation).map((r) => ({ name: r.name, lagMs: r.lagMs }));
      checks.replicas = out.length
        ? { ok: true, warning: true, code: 'READ_REPLICA_OUT_OF_ROTATION', detail: out }
        : { ok: true, detail: [] };
    }
  } catch (error) {
    const code = isDatabaseUnavailable(error) ? 'DATABASE_UNAVAILABLE' : 'DATABASE_ERROR';
    options.log?.warn({ err: error, code }, 'readiness check failed');
    checks.database = { ok: false, code };
  }
  return { ready: Object.values(checks).every((c) => c.ok), checks };
}
