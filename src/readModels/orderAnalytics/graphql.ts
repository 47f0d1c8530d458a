// order_analytics in the API: figures per bucket and status (a customer's own from order_list_view).
import { builder } from '../../graphql/builder.ts';
import { ConsistencyInput, readFrom } from '../../graphql/consistency.ts';
import { readScope } from '../../graphql/reads.ts';
import { OrderStatusEnum } from '../../graphql/types/orderStatus.ts';
import { badInput } from '../../read/paging.ts';
import { type Bucket, getCustomerAnalytics, getOrderAnalytics } from './queries.ts';

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

builder.queryFields((t) => ({
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
        ? getCustomerAnalytics(ctx.read.pool, customerId, args.from, args.to, bucket)
        : getOrderAnalytics(ctx.read.pool, args.from, args.to, bucket);
    },
  }),
}));
