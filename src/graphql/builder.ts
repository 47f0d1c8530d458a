// The Pothos builder and its plugins. It defines no types; those live in types/.
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import type PrismaTypes from '../generated/pothos-prisma-types.ts';
import { getDatamodel } from '../generated/pothos-prisma-types.ts';
import type { GraphQLContext } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ErrorsPlugin, PrismaPlugin],
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
