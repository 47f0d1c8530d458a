import type { App } from '../app.ts';
import { Unauthenticated } from '../auth/jwt.ts';
import type { Subject } from '../auth/subject.ts';
import type { Loaders } from '../read/loaders.ts';
import { commandContextFor } from '../runtime.ts';
import type { CommandContext } from '../write/command.ts';

export interface GraphQLContext {
  app: App;
  /** Null without a token: only introspection answers then (see auth plugin). */
  subject: Subject | null;
  requestId: string;
  traceContext: Record<string, string> | null;
  loaders: Loaders;
  /** Read models this request read, reported with their freshness in `extensions`. */
  readModels: Set<string>;
}

export function commandContext(ctx: GraphQLContext): CommandContext {
  if (!ctx.subject) throw new Unauthenticated('a bearer token is required');
  return commandContextFor(ctx.app, ctx.subject, ctx.traceContext);
}
