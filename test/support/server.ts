// A test app served on a real socket (the real HTTP front door, src/server/http.ts, with
// WebSocket attached): HTTP, SSE and WebSocket clients talk to it, for what yoga.fetch does
// not reach (the body size limit, the request id scope, CORS, transports).
import type { AddressInfo } from 'node:net';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createHttpServer, type ReadyCheck } from '../../src/server/http.ts';
import { attachWebSocket } from '../../src/server/ws.ts';
import type { TestApp } from './app.ts';

export interface ListenOptions {
  /** What /ready answers (default: always ready; pass `() => readiness(t.pools, …)` for the real check). */
  ready?: () => Promise<ReadyCheck>;
  readyTimeoutMs?: number;
}

export type TestServer = Awaited<ReturnType<typeof listen>>;

/** Serves the app (or another yoga on it) over HTTP and WebSocket on a loopback port. */
export async function listen(t: TestApp, yoga = t.yoga, options: ListenOptions = {}) {
  const server = createHttpServer(t.app, {
    yoga,
    ready: options.ready ?? (async () => ({ ready: true, checks: {} })),
    ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  });
  const ws = attachWebSocket(t.app, server, yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    base: `http://127.0.0.1:${port}`,
    port,
    async close() {
      await ws.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A GraphQL request body: JSON text or a stream as it is, an object as JSON. */
export type GraphQLBody = string | ReadableStream<Uint8Array> | { query: string; variables?: Record<string, unknown> };

/** POSTs to a served /graphql with an admin bearer token; `headers` add to or replace the JSON content type. */
export function postAsAdmin(
  url: string,
  adminToken: string,
  body: GraphQLBody,
  headers: Record<string, string> = {},
): Promise<Response> {
  const streamed = body instanceof ReadableStream;
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}`, ...headers },
    body: typeof body === 'string' || streamed ? body : JSON.stringify(body),
    // A streamed body needs half duplex in Node's fetch.
    ...(streamed ? { duplex: 'half' } : {}),
  } as RequestInit);
}

export interface Received<T> {
  items: T[];
  errors: unknown[];
  completed: boolean;
  stop(): void;
}

type Payload = { data?: Record<string, unknown> | null; errors?: readonly unknown[] };

/** Both clients take the same sink; this one collects what arrives. */
interface Sink {
  next(value: Payload): void;
  error(error: unknown): void;
  complete(): void;
}

function collecting<T>(): { received: Received<T>; sink: Sink } {
  const received: Received<T> = { items: [], errors: [], completed: false, stop: () => {} };
  return {
    received,
    sink: {
      next: (value: Payload) => {
        if (value.errors) received.errors.push(...value.errors);
        if (value.data) received.items.push(Object.values(value.data)[0] as T);
      },
      error: (error: unknown) => received.errors.push(error),
      complete: () => {
        received.completed = true;
      },
    },
  };
}

/** Subscribes over WebSocket (graphql-ws) and collects what arrives. */
export function subscribeWs<T>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Received<T> {
  const client = createWsClient({
    url: url.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const { received, sink } = collecting<T>();
  const unsubscribe = client.subscribe<Payload['data']>({ query, variables }, sink);
  received.stop = () => {
    unsubscribe();
    void client.dispose();
  };
  return received;
}

/** Subscribes over SSE (graphql-sse, distinct connections) and collects what arrives. */
export function subscribeSse<T>(
  url: string,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Received<T> {
  const client = createSseClient({
    url,
    headers: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    singleConnection: false,
  });
  const { received, sink } = collecting<T>();
  const unsubscribe = client.subscribe<Payload['data']>({ query, variables }, sink);
  received.stop = () => {
    unsubscribe();
    client.dispose();
  };
  return received;
}
