// GraphQL over WebSocket (graphql-ws protocol) on the same /graphql path, through the
// same yoga plugins (auth, masking, limits). The JWT comes in the connection params:
// { "Authorization": "Bearer <jwt>" }.
import type { Server } from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import type { App } from '../app.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { checkParams } from '../graphql/limits.ts';

export interface WebSocketEndpoint {
  /** Completes every subscription (clients see a proper close) and closes the sockets. */
  close(): Promise<void>;
  clients(): number;
}

export function attachWebSocket(
  app: App,
  server: Server,
  yoga: YogaServerInstance<object, GraphQLContext>,
): WebSocketEndpoint {
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: app.config.maxRequestBytes });
  const disposable = useServer(
    {
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onSubscribe: async (ctx, id, params) => {
        // The same document/variables size, NUL and Unicode checks as over HTTP.
        try {
          checkParams(app.config.limits, params);
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          const { http: _status, ...extensions } = error.extensions;
          return [new GraphQLError(error.message, { extensions })];
        }
        const connectionParams = (ctx.connectionParams ?? {}) as Record<string, unknown>;
        const authorization = connectionParams.Authorization ?? connectionParams.authorization;
        const headers = new Headers();
        if (typeof authorization === 'string') headers.set('authorization', authorization);
        const request = new Request('http://localhost/graphql', { headers });
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          request,
          transport: 'ws',
          connection: ctx.extra.socket,
          ws: { socket: ctx.extra.socket, id },
        });
        const document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length) return errors;
        let contextValue: unknown;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          // A bad token: a GraphQL error for this operation, not a dropped socket.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
      },
    },
    wss,
  );
  return {
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
    clients: () => wss.clients.size,
  };
}
