import type { Context as TraceContext } from '@opentelemetry/api';
import type { App } from '../app.ts';
import { commandContextFor } from '../app.ts';
import { Unauthenticated } from '../auth/jwt.ts';
import type { Subject } from '../auth/subject.ts';
import type { Transport } from '../observability/metrics.ts';
import type { Loaders } from '../read/loaders.ts';
import type { ReadSource } from '../read/replicas.ts';
import type { CommandContext } from '../write/command.ts';
import type { LiveSlot, SseChannel, WsTarget } from './delivery.ts';

export interface GraphQLContext {
  app: App;
  /** Null without a token: only introspection answers then (see auth plugin). */
  subject: Subject | null;
  requestId: string;
  /** The OpenTelemetry context: the caller's `traceparent`, then this operation's span. */
  trace: TraceContext;
  /** How the operation arrived (metrics and logs). */
  transport: Transport;
  loaders: Loaders;
  /** Where this request's read-model queries go (read/replicas.ts); a consistency wait may move it to the primary. */
  read: ReadSource;
  /** Read models this request read, reported with their freshness in `extensions`. */
  readModels: Set<string>;
  /** Set by a subscription field's resolver for the change it resolved (graphql/delivery.ts). */
  live?: LiveSlot;
  /** An SSE request's response, written to directly by the delivery engine. */
  sse?: SseChannel;
  /** The connection a WebSocket operation came on (subscriptions per connection). */
  connection?: object;
  /** A WebSocket operation's socket and id, written to directly by the delivery engine. */
  ws?: WsTarget;
}

export function commandContext(ctx: GraphQLContext): CommandContext {
  if (!ctx.subject) throw new Unauthenticated('a bearer token is required');
  return commandContextFor(ctx.app, ctx.subject, ctx.trace);
}
