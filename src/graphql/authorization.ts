import { createGraphQLError } from 'graphql-yoga';
import { type Action, isAllowed } from '../auth/policy.ts';
import type { GraphQLContext } from './context.ts';

/** For queries, which have no error unions: a FORBIDDEN GraphQL error. */
export function requireAllowed(ctx: GraphQLContext, action: Action): void {
  if (!ctx.subject || !isAllowed(ctx.subject, action)) {
    throw createGraphQLError(`not allowed: ${action}`, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
  }
}
