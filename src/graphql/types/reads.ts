// Queries: read models only, never the write tables.
import type { ObjectRef } from '@pothos/core';
import { type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { emailFor } from '../../auth/masking.ts';
import { isAllowed, type Operation, ownerScope } from '../../auth/policy.ts';
import type { Subject } from '../../auth/subject.ts';
import { Forbidden, isUuid } from '../../errors.ts';
import { badInput, pageSize } from '../../read/paging.ts';
import { getCustomerOrderHistory, type HistoryEntry } from '../../readModels/customerOrderHistory/queries.ts';
import { type Bucket, getCustomerAnalytics, getOrderAnalytics } from '../../readModels/orderAnalytics/queries.ts';
import { getCustomerById } from '../../readModels/orderListView/customers.ts';
import { listOrders, type OrderView, type OrderViewItem } from '../../readModels/orderListView/queries.ts';
import {
  autocomplete,
  type SearchHit,
  type SearchResult,
  type Suggestion,
  searchOrders,
} from '../../readModels/orderSearch/queries.ts';
import { builder } from '../builder.ts';
import { ConsistencyInput, readFrom } from '../consistency.ts';
import type { GraphQLContext } from '../context.ts';
import { OrderStatusEnum } from './orderStatus.ts';

/** The sub-selections of the fields called `name` in `sets`, through fragments. */
function subSelections(
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

/** Whether an order connection's selection asks for `items` (under `nodes` or `edges.node`). */
function selectsOrderItems(info: GraphQLResolveInfo): boolean {
  const connection = info.fieldNodes.flatMap((f) => (f.selectionSet ? [f.selectionSet] : []));
  const orders = [
    ...subSelections(info, connection, 'nodes'),
    ...subSelections(info, subSelections(info, connection, 'edges'), 'node'),
  ];
  return orders.some((set) => set.selections.length > 0 && subSelections(info, [set], 'items').length > 0);
}

function forbidden(message: string) {
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

function canSee(ctx: GraphQLContext, operation: Operation, customerId: string): boolean {
  return ctx.subject !== null && isAllowed(ctx.subject, operation, customerId);
}

export const OrderViewItemRef = builder.objectRef<OrderViewItem>('OrderViewItem').implement({
  description: 'A line of an order, as the order list view holds it.',
  fields: (t) => ({
    lineNo: t.exposeInt('lineNo'),
    productId: t.exposeID('productId'),
    sku: t.exposeString('sku'),
    productName: t.exposeString('productName'),
    quantity: t.exposeInt('quantity'),
    unitPriceCents: t.exposeInt('unitPriceCents'),
  }),
});

export const OrderViewRef = builder.objectRef<OrderView>('OrderView').implement({
  description: 'An order as the order_list_view read model holds it: customer name denormalized, totals pre-computed.',
  fields: (t) => ({
    id: t.exposeID('orderId'),
    customerId: t.exposeID('customerId'),
    customerName: t.exposeString('customerName', { nullable: true, description: 'Null once the customer is erased.' }),
    customerEmail: t.string({
      nullable: true,
      description: 'Admins and the customer itself see it whole; support sees it masked.',
      resolve: (o, _args, ctx) => emailFor(ctx.subject, o.customerId, o.customerEmail),
    }),
    status: t.field({ type: OrderStatusEnum, resolve: (o) => o.status as never }),
    totalCents: t.exposeFloat('totalCents', {
      description: 'Integer cents (Float only because totals may pass 2^31).',
    }),
    itemCount: t.exposeInt('itemCount', { description: 'Units over all lines.' }),
    lineCount: t.exposeInt('lineCount'),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    items: t.field({
      type: [OrderViewItemRef],
      description:
        'Read with the page in the same statement when a list asks for them; otherwise batched per request (DataLoader), one query for all orders asked for.',
      // Read with the order (a page of `orders`), else batched through the loader.
      resolve: (o, _args, ctx) => o.items ?? ctx.loaders.itemsByOrderId.load(o.orderId),
    }),
  }),
});

const PageInfoRef = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

// biome-ignore lint/suspicious/noExplicitAny: Pothos refs are typed per builder; the node type is T either way.
function connection<T>(name: string, node: ObjectRef<any, T>) {
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

const OrderConnection = connection('Order', OrderViewRef);

const OrderFilterInput = builder.inputType('OrderFilter', {
  fields: (t) => ({
    customerId: t.id(),
    status: t.field({ type: OrderStatusEnum }),
    createdFrom: t.field({ type: 'DateTime', description: 'Inclusive.' }),
    createdTo: t.field({ type: 'DateTime', description: 'Exclusive.' }),
    minTotal: t.int({ description: 'Cents, inclusive.' }),
    maxTotal: t.int({ description: 'Cents, inclusive.' }),
  }),
});

const HistorySummaryRef = builder.objectRef<HistoryEntry['summary']>('OrderHistorySummary').implement({
  fields: (t) => ({
    status: t.field({ type: OrderStatusEnum, resolve: (s) => s.status as never }),
    totalCents: t.exposeFloat('totalCents'),
    itemCount: t.exposeInt('itemCount'),
    lineCount: t.exposeInt('lineCount'),
    customerName: t.exposeString('customerName', { nullable: true }),
    updatedAt: t.exposeString('updatedAt'),
  }),
});

const HistoryItemRef = builder.objectRef<HistoryEntry['itemsPreview'][number]>('OrderHistoryItem').implement({
  fields: (t) => ({
    lineNo: t.exposeInt('lineNo'),
    productId: t.exposeID('productId'),
    sku: t.exposeString('sku'),
    productName: t.exposeString('productName'),
    quantity: t.exposeInt('quantity'),
    unitPriceCents: t.exposeInt('unitPriceCents'),
  }),
});

const HistoryEntryRef = builder.objectRef<HistoryEntry>('OrderHistoryEntry').implement({
  description: 'One order in a customer history, newest first.',
  fields: (t) => ({
    orderId: t.exposeID('orderId'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    version: t.exposeInt('version'),
    summary: t.field({ type: HistorySummaryRef, resolve: (e) => e.summary }),
    itemsPreview: t.field({
      type: [HistoryItemRef],
      description: 'The first three lines.',
      resolve: (e) => e.itemsPreview,
    }),
  }),
});

const HistoryConnection = connection('OrderHistory', HistoryEntryRef);

const SearchHitRef = builder.objectRef<SearchHit>('SearchHit').implement({
  fields: (t) => ({
    orderId: t.exposeID('orderId'),
    customerId: t.exposeID('customerId'),
    customerName: t.exposeString('customerName', { nullable: true }),
    status: t.field({ type: OrderStatusEnum, resolve: (h) => h.status as never }),
    totalCents: t.exposeFloat('totalCents'),
    itemCount: t.exposeInt('itemCount'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    skus: t.exposeStringList('skus'),
    productNames: t.exposeStringList('productNames'),
    rank: t.exposeFloat('rank'),
  }),
});

const StatusFacetRef = builder.objectRef<{ value: string; count: number }>('StatusFacet').implement({
  fields: (t) => ({
    status: t.field({ type: OrderStatusEnum, resolve: (f) => f.value as never }),
    count: t.exposeInt('count'),
  }),
});

const AmountFacetRef = builder
  .objectRef<{ key: string; fromCents: number; toCents: number | null; count: number }>('AmountFacet')
  .implement({
    fields: (t) => ({
      key: t.exposeString('key'),
      fromCents: t.exposeInt('fromCents'),
      toCents: t.exposeInt('toCents', { nullable: true }),
      count: t.exposeInt('count'),
    }),
  });

const DateRangeRef = builder.objectRef<{ from: Date | null; to: Date | null }>('DateRange').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime', nullable: true }),
    to: t.expose('to', { type: 'DateTime', nullable: true }),
  }),
});

const FacetsRef = builder.objectRef<SearchResult['facets']>('SearchFacets').implement({
  description: 'Counts over all matches; each facet ignores its own filter.',
  fields: (t) => ({
    status: t.field({ type: [StatusFacetRef], resolve: (f) => f.status }),
    amount: t.field({ type: [AmountFacetRef], resolve: (f) => f.amount }),
    createdAt: t.field({ type: DateRangeRef, resolve: (f) => f.createdAt }),
  }),
});

const SearchResultRef = builder.objectRef<SearchResult>('SearchResult').implement({
  fields: (t) => ({
    hits: t.field({ type: [SearchHitRef], resolve: (r) => r.hits }),
    total: t.exposeInt('total'),
    facets: t.field({ type: FacetsRef, resolve: (r) => r.facets }),
    pageInfo: t.field({
      type: PageInfoRef,
      resolve: (r) => ({ hasNextPage: r.hasNextPage, endCursor: r.cursors.at(-1) ?? null }),
    }),
  }),
});

const SuggestionKindEnum = builder.enumType('SuggestionKind', { values: ['customer', 'product', 'sku'] as const });

const SuggestionRef = builder.objectRef<Suggestion>('Suggestion').implement({
  fields: (t) => ({
    term: t.exposeString('term'),
    kind: t.field({ type: SuggestionKindEnum, resolve: (s) => s.kind as never }),
    orders: t.exposeInt('orders', { description: 'How many orders carry the term.' }),
  }),
});

const BucketEnum = builder.enumType('AnalyticsBucket', { values: ['DAY', 'WEEK', 'MONTH'] as const });

const AnalyticsRowRef = builder
  .objectRef<{ bucketStart: string; status: string; orderCount: number; revenueCents: number; itemsSold: number }>(
    'OrderAnalyticsRow',
  )
  .implement({
    fields: (t) => ({
      bucketStart: t.exposeString('bucketStart', { description: 'First day of the bucket (UTC), YYYY-MM-DD.' }),
      status: t.field({ type: OrderStatusEnum, resolve: (r) => r.status as never }),
      orderCount: t.exposeInt('orderCount'),
      revenueCents: t.exposeFloat('revenueCents'),
      itemsSold: t.exposeFloat('itemsSold'),
    }),
  });

const CustomerViewRef = builder
  .objectRef<{ customerId: string; name: string | null; email: string | null; erased: boolean }>('CustomerView')
  .implement({
    fields: (t) => ({
      id: t.exposeID('customerId'),
      name: t.exposeString('name', { nullable: true }),
      email: t.string({ nullable: true, resolve: (c, _a, ctx) => emailFor(ctx.subject, c.customerId, c.email) }),
      erased: t.exposeBoolean('erased'),
    }),
  });

builder.queryFields((t) => ({
  order: t.field({
    description: 'One order from order_list_view; null when there is none.',
    type: OrderViewRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }), consistency: t.arg({ type: ConsistencyInput }) },
    resolve: async (_root, args, ctx) => {
      await readFrom(ctx, ['order_list_view'], args.consistency);
      const id = String(args.id);
      if (!isUuid(id)) return null;
      const order = await ctx.loaders.orderById.load(id);
      if (order && !canSee(ctx, 'order', order.customerId)) throw forbidden('a customer reads only its own orders');
      return order;
    },
  }),
  orders: t.field({
    description: 'Orders, newest first, as a cursor connection (keyset pagination: stable while orders are added).',
    type: OrderConnection,
    args: {
      filter: t.arg({ type: OrderFilterInput }),
      first: t.arg.int({ description: '1 to 200, default 20.' }),
      after: t.arg.string(),
      consistency: t.arg({ type: ConsistencyInput }),
    },
    resolve: async (_root, args, ctx, info) => {
      await readFrom(ctx, ['order_list_view'], args.consistency);
      const filter = args.filter ?? {};
      const customerId = readScope(ctx.subject, 'orders', filter.customerId ? String(filter.customerId) : null);
      if (customerId && !isUuid(customerId)) throw badInput('customerId is not an id', 'filter');
      // Items asked for: read with the page, in the same statement (no second round trip).
      return listOrders(ctx.app.pool, ctx.app.cursors, { ...filter, customerId }, pageSize(args.first), args.after, {
        withItems: selectsOrderItems(info),
      });
    },
  }),
  customerOrderHistory: t.field({
    description: "A customer's orders, newest first, with a summary and the first three lines each.",
    type: HistoryConnection,
    args: {
      customerId: t.arg.id({ required: true }),
      first: t.arg.int(),
      after: t.arg.string(),
      consistency: t.arg({ type: ConsistencyInput }),
    },
    resolve: async (_root, args, ctx) => {
      await readFrom(ctx, ['customer_order_history'], args.consistency);
      const customerId = readScope(ctx.subject, 'customerOrderHistory', String(args.customerId))!;
      if (!isUuid(customerId)) throw badInput('customerId is not an id', 'customerId');
      return getCustomerOrderHistory(ctx.app.pool, ctx.app.cursors, customerId, pageSize(args.first), args.after);
    },
  }),
  searchOrders: t.field({
    description:
      'Full-text search over customer names, product names and SKUs (every word a prefix), with facets. Customers search their own orders.',
    type: SearchResultRef,
    args: {
      text: t.arg.string({ required: true }),
      filters: t.arg({ type: OrderFilterInput }),
      first: t.arg.int(),
      after: t.arg.string(),
      consistency: t.arg({ type: ConsistencyInput }),
    },
    resolve: async (_root, args, ctx) => {
      await readFrom(ctx, ['order_search'], args.consistency);
      if (args.text.length > 200) throw badInput('text is at most 200 characters', 'text');
      const filters = args.filters ?? {};
      const customerId = readScope(ctx.subject, 'searchOrders', filters.customerId ? String(filters.customerId) : null);
      if (customerId && !isUuid(customerId)) throw badInput('customerId is not an id', 'filters');
      return searchOrders(
        ctx.app.pool,
        ctx.app.cursors,
        args.text,
        { ...filters, customerId },
        pageSize(args.first),
        args.after,
      );
    },
  }),
  autocomplete: t.field({
    description:
      'Customer names, product names and SKUs starting with `prefix` (most orders first), then close matches.',
    type: [SuggestionRef],
    args: {
      prefix: t.arg.string({ required: true }),
      limit: t.arg.int(),
      consistency: t.arg({ type: ConsistencyInput }),
    },
    resolve: async (_root, args, ctx) => {
      await readFrom(ctx, ['order_search'], args.consistency);
      if (args.prefix.length < 1 || args.prefix.length > 100) throw badInput('prefix is 1 to 100 characters', 'prefix');
      const limit = args.limit ?? 10;
      if (limit < 1 || limit > 50) throw badInput('limit is 1 to 50', 'limit');
      return autocomplete(ctx.app.pool, args.prefix, limit, readScope(ctx.subject, 'autocomplete', null));
    },
  }),
  orderAnalytics: t.field({
    description: 'Order count, revenue and items sold per bucket and status. Customers get their own figures.',
    type: [AnalyticsRowRef],
    args: {
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true, description: 'Exclusive.' }),
      bucket: t.arg({ type: BucketEnum, defaultValue: 'DAY' }),
      consistency: t.arg({ type: ConsistencyInput }),
    },
    resolve: async (_root, args, ctx) => {
      const customerId = readScope(ctx.subject, 'orderAnalytics', null);
      await readFrom(ctx, [customerId ? 'order_list_view' : 'order_analytics'], args.consistency);
      if (args.to <= args.from) throw badInput('to must be after from', 'to');
      if (args.to.getTime() - args.from.getTime() > 3 * 366 * 86_400_000) throw badInput('at most three years', 'to');
      const bucket = (args.bucket ?? 'DAY') as Bucket;
      return customerId
        ? getCustomerAnalytics(ctx.app.pool, customerId, args.from, args.to, bucket)
        : getOrderAnalytics(ctx.app.pool, args.from, args.to, bucket);
    },
  }),
  customer: t.field({
    description: 'A customer as the read side knows it; null when unknown.',
    type: CustomerViewRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }), consistency: t.arg({ type: ConsistencyInput }) },
    resolve: async (_root, args, ctx) => {
      await readFrom(ctx, ['order_list_view'], args.consistency);
      const id = readScope(ctx.subject, 'customer', String(args.id))!;
      return isUuid(id) ? getCustomerById(ctx.app.pool, id) : null;
    },
  }),
}));
