// The Pothos builder and its plugins. It defines no types; those live in types/.
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { createGraphQLError } from 'graphql-yoga';
import { ruleFor } from '../auth/policy.ts';
import { Forbidden } from '../errors.ts';
import type PrismaTypes from '../generated/pothos-prisma-types.ts';
import { getDatamodel } from '../generated/pothos-prisma-types.ts';
import type { GraphQLContext } from './context.ts';
import PolicyPlugin from './policyPlugin.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
  };
  DefaultFieldNullability: false;
  AuthScopes: {
    /** "<Root>.<field>": the subject's role may call this operation (auth/policy.ts). */
    operation: string;
  };
}>({
  plugins: [PolicyPlugin, ErrorsPlugin, ScopeAuthPlugin, PrismaPlugin],
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      operation: (key: string) => {
        const [root = '', field = ''] = key.split('.');
        const grant = ctx.subject ? ruleFor(root, field)?.[ctx.subject.role] : undefined;
        return grant === 'all' || grant === 'own';
      },
    }),
    // Mutations answer with their Forbidden union member; queries and subscriptions
    // with a FORBIDDEN error.
    unauthorizedError: (_parent, ctx, info) => {
      const message = `${ctx.subject?.role ?? 'anonymous'} may not ${info.fieldName}`;
      if (info.parentType.name === 'Mutation') return new Forbidden(message);
      return createGraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
    },
  },
  defaultFieldNullability: false,
  prisma: {
    dmmf: getDatamodel(),
    // Resolved per request from the context, so a schema can be built without a database.
    client: (ctx) => ctx.app.prisma,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  errors: { defaultTypes: [] },
});

builder.queryType({ description: 'Reads. Every query reads read models only (see the consistency model).' });
builder.mutationType({
  description: 'Commands. Each writes the write model and its events in one transaction and returns a position token.',
});
