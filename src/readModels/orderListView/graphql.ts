// order_list_view in the API: OrderView, the orders page, one order, a customer.
import type { GraphQLResolveInfo } from 'graphql';
import { emailFor } from '../../auth/masking.ts';
import { isUuid } from '../../errors.ts';
import { builder } from '../../graphql/builder.ts';
import { ConsistencyInput, readFrom } from '../../graphql/consistency.ts';
import {
  canSee,
  connection,
  forbidden,
  OrderFilterInput,
  orderLineFields,
  readScope,
  subSelections,
} from '../../graphql/reads.ts';
import { OrderStatusEnum } from '../../graphql/types/orderStatus.ts';
import { badInput, pageSize } from '../../read/paging.ts';
import { getCustomerById } from './customers.ts';
import { listOrders, type OrderView, type OrderViewItem } from './queries.ts';

/** Whether an order connection's selection asks for `items` (under `nodes` or `edges.node`). */
function selectsOrderItems(info: GraphQLResolveInfo): boolean {
  const connection = info.fieldNodes.flatMap((f) => (f.selectionSet ? [f.selectionSet] : []));
  const orders = [
    ...subSelections(info, connection, 'nodes'),
    ...subSelections(info, subSelections(info, connection, 'edges'), 'node'),
  ];
  return orders.some((set) => set.selections.length > 0 && subSelections(info, [set], 'items').length > 0);
}

export const OrderViewItemRef = builder.objectRef<OrderViewItem>('OrderViewItem').implement({
  description: 'A line of an order, as the order list view holds it.',
  fields: (t) => orderLineFields(t),
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
    currency: t.exposeString('currency', {
      nullable: true,
      description:
        'ISO 4217 code of the money in this order (its totals and prices are in its minor units). Version 2 of order_list_view: null while a database that held version 1 rebuilds, until the new version is swapped in.',
    }),
    items: t.field({
      type: [OrderViewItemRef],
      description:
        'Read with the page in the same statement when a list asks for them; otherwise batched per request (DataLoader), one query for all orders asked for.',
      // Read with the order (a page of `orders`), else batched through the loader.
      resolve: (o, _args, ctx) => o.items ?? ctx.loaders.itemsByOrderId.load(o.orderId),
    }),
  }),
});

const OrderConnection = connection('Order', OrderViewRef);

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
      return listOrders(ctx.read.pool, ctx.app.cursors, { ...filter, customerId }, pageSize(args.first), args.after, {
        withItems: selectsOrderItems(info),
      });
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
      return isUuid(id) ? getCustomerById(ctx.read.pool, id) : null;
    },
  }),
}));
