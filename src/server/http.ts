// The HTTP front door: /graphql (yoga), /health, /ready. Request bodies are read here
// with a hard size limit before GraphQL sees them.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { YogaServerInstance } from 'graphql-yoga';
import type pg from 'pg';
import type { App } from '../app.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { requestScope } from '../graphql/yoga.ts';
import { readCheckpoints } from '../projections/checkpoints.ts';
import { pgSql } from '../projections/sql.ts';

export interface ReadyCheck {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: unknown }>;
}

export interface HttpOptions {
  yoga?: YogaServerInstance<object, GraphQLContext>;
  ready: () => Promise<ReadyCheck>;
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
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  const response = await yoga.fetch(
    `http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    { method: req.method, headers, body, signal: controller.signal },
    {},
  );
  const outHeaders: Record<string, string> = { 'x-request-id': requestId };
  response.headers.forEach((value, name) => {
    outHeaders[name] = value;
  });
  res.writeHead(response.status, outHeaders);
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
      res.write(value);
    }
  } catch {
    // The client went away mid-stream; nothing more to send.
  }
  res.end();
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
          const report = await options.ready();
          sendJson(res, report.ready ? 200 : 503, report);
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

/** Ready: the database answers and no projection is STALLED. */
export async function readiness(pool: pg.Pool): Promise<ReadyCheck> {
  try {
    const checkpoints = await readCheckpoints(pgSql(pool));
    const stalled = checkpoints.filter((c) => c.state === 'STALLED');
    return {
      ready: stalled.length === 0,
      checks: {
        database: { ok: true },
        projections: {
          ok: stalled.length === 0,
          detail: stalled.map((c) => ({ name: c.name, state: c.state, lastError: c.lastError })),
        },
      },
    };
  } catch (error) {
    return { ready: false, checks: { database: { ok: false, detail: (error as Error).message } } };
  }
}
