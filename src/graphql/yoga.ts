import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { createGraphQLError, createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { App } from '../app.ts';
import { isDatabaseUnavailable, UNAVAILABLE } from '../db/unavailable.ts';
import type { Transport } from '../observability/metrics.ts';
import { contextFromCarrier } from '../observability/tracing.ts';
import { createLoaders } from '../read/loaders.ts';
import { subjectFromHeader, useRequireSubject } from './auth.ts';
import { corsFor, graphiqlPage, isGraphiQLRequest, isSameOrigin, useGraphiQLGuard } from './browser.ts';
import { useReadModelFreshness } from './consistency.ts';
import type { GraphQLContext } from './context.ts';
import { LiveEngine, type SseChannel, type WsTarget } from './delivery.ts';
import { useLimits } from './limits.ts';
import { useObservability } from './observability.ts';
import { ReadCache } from './readCache.ts';
import { schema } from './schema.ts';

export interface RequestScope {
  requestId: string;
}

/** The request being served, for log lines written far from the request (masked errors). */
export const requestScope = new AsyncLocalStorage<RequestScope>();

export interface YogaOptions {
  /** Pre-filled in GraphiQL's headers (embedded development mode only). */
  graphiqlToken?: string;
}

const DEFAULT_QUERY = `# Parallax: commands are mutations, queries read the read models.
# The Authorization header below carries a sample admin token.
# Try: createOrder, then orders(consistency: { atLeast: <position> }).
query Catalogue {
  products { id sku name priceCents }
  orders(first: 5) {
    nodes { id customerName status totalCents items { sku quantity } }
  }
}
`;

/** The caller's W3C trace context (`traceparent`, `tracestate` headers), if any. */
function traceFrom(request: Request) {
  const traceparent = request.headers.get('traceparent');
  const tracestate = request.headers.get('tracestate');
  return contextFromCarrier(traceparent ? { traceparent, ...(tracestate ? { tracestate } : {}) } : null);
}

function transportOf(initial: object, request: Request): Transport {
  if ((initial as { transport?: Transport }).transport === 'ws') return 'ws';
  return request.headers.get('accept')?.includes('text/event-stream') ? 'sse' : 'http';
}

export function createGraphQLServer(app: App, options: YogaOptions = {}): YogaServerInstance<object, GraphQLContext> {
  const graphiql = graphiqlPage(async () => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL);
  const graphiqlOptions = {
    title: 'Parallax',
    defaultQuery: DEFAULT_QUERY,
    headers: options.graphiqlToken ? JSON.stringify({ Authorization: `Bearer ${options.graphiqlToken}` }) : undefined,
  };
  return createYoga<object, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: {
      debug: (...args) => app.log.debug({ args }, 'yoga'),
      info: (...args) => app.log.info({ args }, 'yoga'),
      warn: (...args) => app.log.warn({ args }, 'yoga'),
      error: (...args) => app.log.error({ args }, 'yoga'),
    },
    // GraphiQL with its assets inlined: no CDN, so it works offline and behind firewalls.
    // It may carry a token (development), so only pages of this origin get it, with no
    // CORS and a strict content security policy (graphql/browser.ts).
    renderGraphiQL: graphiql.render,
    graphiql: (request) => (isSameOrigin(request) ? graphiqlOptions : false),
    // Cross-origin access only for the origins in CORS_ORIGINS; never for GraphiQL.
    cors: (request) => (isGraphiQLRequest(request) ? false : corsFor(app.config.corsOrigins, request)),
    context: async (initial): Promise<GraphQLContext> => {
      const { request } = initial;
      const read = app.reads.pick();
      return {
        app,
        subject: await subjectFromHeader(app, request.headers.get('authorization')),
        requestId: requestScope.getStore()?.requestId ?? randomUUID(),
        trace: traceFrom(request),
        transport: transportOf(initial, request),
        loaders: createLoaders(read.pool),
        read,
        readModels: new Set(),
        sse: (initial as { sse?: SseChannel }).sse,
        connection: (initial as { connection?: object }).connection,
        ws: (initial as { ws?: WsTarget }).ws,
      };
    },
    maskedErrors: {
      // Unexpected errors never reach the client: it gets a code and the request id,
      // the log gets the error.
      maskError(error: unknown, message: string): Error {
        const original = error instanceof GraphQLError ? error.originalError : error;
        if (error instanceof GraphQLError && (!original || original instanceof GraphQLError)) return error;
        const requestId = requestScope.getStore()?.requestId;
        if (original instanceof SyntaxError && !(error instanceof GraphQLError && error.path)) {
          // Unparsable JSON in the request itself (e.g. GET ?variables=): the caller's mistake.
          return createGraphQLError('the request is not valid JSON', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 }, requestId },
          });
        }
        if (isDatabaseUnavailable(original ?? error)) {
          // An outage, not a bug: nothing half-applied, the client should retry.
          app.log.warn({ err: original ?? error, requestId }, 'database unavailable');
          return createGraphQLError('The database is unavailable; retry the request.', {
            path: error instanceof GraphQLError ? error.path : undefined,
            extensions: { code: UNAVAILABLE, retryable: true, requestId },
          });
        }
        app.log.error({ err: original ?? error, requestId }, 'internal error');
        return createGraphQLError(message, {
          path: error instanceof GraphQLError ? error.path : undefined,
          extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
        });
      },
    },
    // A JSON array of operations runs them in one request, at most MAX_BATCH_OPERATIONS.
    batching: { limit: app.config.limits.maxBatch },
    // The HTTP front door (server/http.ts) reads every body under MAX_REQUEST_BYTES before
    // yoga sees it (REQUEST_TOO_LARGE); yoga's own limit would re-stream each body through
    // a counting TransformStream per request for nothing.
    maxRequestBodySize: false,
    plugins: [
      useGraphiQLGuard(graphiql),
      useObservability(),
      useRequireSubject(),
      ...useLimits(app.config.limits, app.rateLimitStore),
      useReadModelFreshness(),
      // After the freshness extension, so a cached answer gets it too.
      new ReadCache(app.config.readCache).plugin(),
      // Last: subscribers join the delivery engine only after every check above passed for them.
      new LiveEngine(app.config.live).plugin(),
    ],
  });
}
