// What the read models' GraphQL types share: who may read whose data, connections
// (cursor pages) and the order filter.
import type { ObjectRef } from '@pothos/core';
import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { isAllowed, type Operation, ownerScope } from '../auth/policy.ts';
import type { Subject } from '../auth/subject.ts';
import { Forbidden } from '../errors.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import { OrderStatusEnum } from './types/orderStatus.ts';

/** The sub-selections of the fields called `name` in `sets`, through fragments. */
export function subSelections(
  info: GraphQLResolveInfo,
  sets: readonly SelectionSetNode[],
  name: string,
  seen = new Set<string>(),
): SelectionSetNode[] {
  const found: SelectionSetNode[] = [];
  for (const set of sets) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === name && selection.selectionSet) found.push(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        found.push(...subSelections(info, [selection.selectionSet], name, seen));
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = info.fragments[selection.name.value];
        if (fragment) found.push(...subSelections(info, [fragment.selectionSet], name, seen));
      }
    }
  }
  return found;
}

export function forbidden(message: string) {
  return createGraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
}

/**
 * Whose data the subject may read through `operation`, by the matrix in auth/policy.ts:
 * the requested customer (null: all) where the grant is 'all', the subject's own
 * customer where it is 'own'; a request for another customer is FORBIDDEN.
 */
export function readScope(
  subject: Subject | null,
  operation: Operation,
  customerId: string | null | undefined,
): string | null {
  if (!subject) throw forbidden('a bearer token is required');
  try {
    return ownerScope(subject, operation, customerId);
  } catch (error) {
    if (error instanceof Forbidden) throw forbidden(error.message);
    throw error;
  }
}

export function canSee(ctx: GraphQLContext, operation: Operation, customerId: string): boolean {
  return ctx.subject !== null && isAllowed(ctx.subject, operation, customerId);
}

export const PageInfoRef = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

// biome-ignore lint/suspicious/noExplicitAny: Pothos refs are typed per builder; the node type is T either way.
export function connection<T>(name: string, node: ObjectRef<any, T>) {
  const Edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: node, resolve: (e) => e.node as never }),
    }),
  });
  return builder
    .objectRef<{ nodes: T[]; cursors: string[]; hasNextPage: boolean; totalCount?: () => Promise<number> }>(
      `${name}Connection`,
    )
    .implement({
      fields: (t) => ({
        totalCount: t.int({
          nullable: true,
          description: 'All rows matching the filter (one extra count query; null where not supported).',
          resolve: (c) => c.totalCount?.() ?? null,
        }),
        edges: t.field({ type: [Edge], resolve: (c) => c.nodes.map((n, i) => ({ cursor: c.cursors[i]!, node: n })) }),
        nodes: t.field({ type: [node], resolve: (c) => c.nodes as never }),
        pageInfo: t.field({
          type: PageInfoRef,
          resolve: (c) => ({ hasNextPage: c.hasNextPage, endCursor: c.cursors.at(-1) ?? null }),
        }),
      }),
    });
}

export const OrderFilterInput = builder.inputType('OrderFilter', {
  fields: (t) => ({
    customerId: t.id(),
    status: t.field({ type: OrderStatusEnum }),
    createdFrom: t.field({ type: 'DateTime', description: 'Inclusive.' }),
    createdTo: t.field({ type: 'DateTime', description: 'Exclusive.' }),
    minTotal: t.int({ description: 'Cents, inclusive.' }),
    maxTotal: t.int({ description: 'Cents, inclusive.' }),
  }),
});

/** The fields of an order line, for every read model's line type (OrderViewItem, OrderHistoryItem). */
// biome-ignore lint/suspicious/noExplicitAny: a field builder of any object type whose shape is an OrderLine.
export function orderLineFields(t: any) {
  return {
    lineNo: t.exposeInt('lineNo'),
    productId: t.exposeID('productId'),
    sku: t.exposeString('sku'),
    productName: t.exposeString('productName'),
    quantity: t.exposeInt('quantity'),
    unitPriceCents: t.exposeInt('unitPriceCents'),
  };
}
