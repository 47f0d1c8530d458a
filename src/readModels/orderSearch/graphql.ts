// order_search in the API: full-text search with facets, and autocomplete.
import { isUuid } from '../../errors.ts';
import { builder } from '../../graphql/builder.ts';
import { ConsistencyInput, readFrom } from '../../graphql/consistency.ts';
import { OrderFilterInput, PageInfoRef, readScope } from '../../graphql/reads.ts';
import { OrderStatusEnum } from '../../graphql/types/orderStatus.ts';
import { badInput, pageSize } from '../../read/paging.ts';
import { autocomplete, type SearchHit, type SearchResult, type Suggestion, searchOrders } from './queries.ts';

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

builder.queryFields((t) => ({
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
        ctx.read.pool,
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
      return autocomplete(ctx.read.pool, args.prefix, limit, readScope(ctx.subject, 'autocomplete', null));
    },
  }),
}));
