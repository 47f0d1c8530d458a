import type { Order } from '../../generated/prisma/client.ts';
import { addOrderItem, cancelOrder, createOrder, updateOrderStatus } from '../../write/order/handle.ts';
import { builder } from '../builder.ts';
import { afterCommand, MutationConsistencyInput } from '../consistency.ts';
import { commandContext } from '../context.ts';
import { ORDER_COMMAND_ERRORS } from './errors.ts';
import { resultUnion } from './mutationResult.ts';
import { OrderStatusEnum } from './orderStatus.ts';

builder.prismaObject('Order', {
  description: 'An order as the write model holds it (returned by commands).',
  fields: (t) => ({
    id: t.exposeID('id'),
    customerId: t.exposeID('customerId'),
    status: t.expose('status', { type: OrderStatusEnum }),
    totalCents: t.exposeInt('totalCents'),
    version: t.exposeInt('version', { description: 'Pass as expectedVersion to the next command on this order.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    items: t.relation('items', { query: { orderBy: { lineNo: 'asc' } } }),
  }),
});

builder.prismaObject('OrderItem', {
  fields: (t) => ({
    lineNo: t.exposeInt('lineNo'),
    productId: t.exposeID('productId'),
    product: t.relation('product'),
    quantity: t.exposeInt('quantity'),
    unitPriceCents: t.exposeInt('unitPriceCents'),
  }),
});

interface OrderPayloadShape {
  orderId: string;
  version: number;
  position: string;
  /** The order as the command left it, when the command has it (see OrderResult). */
  order?: Order;
}

/** True when a selection of Order asks for no relation: the order's own row answers it. */
function rowOnly(query: Record<string, unknown>): boolean {
  return Object.values(query).every(
    (v) => v === undefined || (typeof v === 'object' && v !== null && !Object.keys(v).length),
  );
}

const OrderPayload = builder.objectRef<OrderPayloadShape>('OrderPayload').implement({
  description: 'An order command succeeded.',
  fields: (t) => ({
    position: t.exposeString('position', { description: 'Pass as consistency.atLeast to read your own write.' }),
    version: t.exposeInt('version', { description: 'The order version after the command.' }),
    order: t.prismaField({
      type: 'Order',
      // A command that returns the row it wrote spares the read-back; else (relations
      // selected, an idempotent replay, other commands) the write model is read.
      resolve: (query, p, _args, ctx) =>
        p.order && rowOnly(query)
          ? p.order
          : ctx.app.prisma.order.findUniqueOrThrow({ ...query, where: { id: p.orderId } }),
    }),
  }),
});

const OrderLineInput = builder.inputType('OrderLineInput', {
  fields: (t) => ({
    productId: t.id({ required: true }),
    quantity: t.int({ required: true, description: '1 to 1000.' }),
  }),
});

const CreateOrderInput = builder.inputType('CreateOrderInput', {
  fields: (t) => ({
    customerId: t.id({ required: true }),
    items: t.field({ type: [OrderLineInput], required: true, description: '1 to 100 lines.' }),
    idempotencyKey: t.string({
      description: 'Retry-safe: the same key with the same input returns the first result and writes nothing.',
    }),
  }),
});

const AddOrderItemInput = builder.inputType('AddOrderItemInput', {
  fields: (t) => ({
    orderId: t.id({ required: true }),
    productId: t.id({ required: true }),
    quantity: t.int({ required: true }),
    expectedVersion: t.int({
      description: 'When given, the command fails with ConcurrencyConflict unless it matches.',
    }),
  }),
});

const UpdateOrderStatusInput = builder.inputType('UpdateOrderStatusInput', {
  fields: (t) => ({
    orderId: t.id({ required: true }),
    status: t.field({ type: OrderStatusEnum, required: true }),
    expectedVersion: t.int(),
  }),
});

const CancelOrderInput = builder.inputType('CancelOrderInput', {
  fields: (t) => ({ orderId: t.id({ required: true }), expectedVersion: t.int() }),
});

builder.mutationFields((t) => ({
  createOrder: t.field({
    description: 'Admin, or a customer for itself. Emits OrderCreated.',
    type: OrderPayload,
    errors: resultUnion('createOrder', ORDER_COMMAND_ERRORS),
    args: {
      input: t.arg({ type: CreateOrderInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(
        ctx,
        consistency,
        await createOrder(commandContext(ctx), {
          customerId: String(input.customerId),
          items: input.items.map((i) => ({ productId: String(i.productId), quantity: i.quantity })),
          idempotencyKey: input.idempotencyKey,
        }),
      ),
  }),
  addOrderItem: t.field({
    description: 'Admin, or the owning customer; only while PENDING. Emits OrderItemAdded.',
    type: OrderPayload,
    errors: resultUnion('addOrderItem', ORDER_COMMAND_ERRORS),
    args: {
      input: t.arg({ type: AddOrderItemInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(
        ctx,
        consistency,
        await addOrderItem(commandContext(ctx), {
          orderId: String(input.orderId),
          productId: String(input.productId),
          quantity: input.quantity,
          expectedVersion: input.expectedVersion,
        }),
      ),
  }),
  updateOrderStatus: t.field({
    description: 'Admin or support. Emits OrderStatusChanged (or OrderCancelled for CANCELLED).',
    type: OrderPayload,
    errors: resultUnion('updateOrderStatus', ORDER_COMMAND_ERRORS),
    args: {
      input: t.arg({ type: UpdateOrderStatusInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(
        ctx,
        consistency,
        await updateOrderStatus(commandContext(ctx), {
          orderId: String(input.orderId),
          status: input.status,
          expectedVersion: input.expectedVersion,
        }),
      ),
  }),
  cancelOrder: t.field({
    description: 'Admin, support, or the owning customer; from PENDING or CONFIRMED. Emits OrderCancelled.',
    type: OrderPayload,
    errors: resultUnion('cancelOrder', ORDER_COMMAND_ERRORS),
    args: {
      input: t.arg({ type: CancelOrderInput, required: true }),
      consistency: t.arg({ type: MutationConsistencyInput }),
    },
    resolve: async (_root, { input, consistency }, ctx) =>
      afterCommand(
        ctx,
        consistency,
        await cancelOrder(commandContext(ctx), {
          orderId: String(input.orderId),
          expectedVersion: input.expectedVersion,
        }),
      ),
  }),
}));
