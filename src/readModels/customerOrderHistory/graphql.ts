// customer_order_history in the API: a customer's orders, newest first.
import { isUuid } from '../../errors.ts';
import { builder } from '../../graphql/builder.ts';
import { ConsistencyInput, readFrom } from '../../graphql/consistency.ts';
import { connection, orderLineFields, readScope } from '../../graphql/reads.ts';
import { OrderStatusEnum } from '../../graphql/types/orderStatus.ts';
import { badInput, pageSize } from '../../read/paging.ts';
import { getCustomerOrderHistory, type HistoryEntry } from './queries.ts';

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
  fields: (t) => orderLineFields(t),
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

builder.queryFields((t) => ({
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
      return getCustomerOrderHistory(ctx.read.pool, ctx.app.cursors, customerId, pageSize(args.first), args.after);
    },
  }),
}));
