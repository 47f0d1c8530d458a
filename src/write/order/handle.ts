import { randomUUID } from 'node:crypto';
import { authorize } from '../../auth/policy.ts';
import type { TransactionClient } from '../../db/prisma.ts';
import { type CommandContext, type CommandResult, runCommand } from '../command.ts';
import { assertId, assertNever, NotFoundError, ValidationError } from '../errors.ts';
import type { PendingEvent } from '../events.ts';
import type { LineInput, OrderCommand, OrderDecisionContext, OrderState, ProductFacts } from './commands.ts';
import { decideOrder } from './decide.ts';
import type { OrderEvent } from './events.ts';
import type { OrderStatus } from './status.ts';

export type OrderResult = CommandResult<{ orderId: string; version: number }>;

async function loadOrder(tx: TransactionClient, id: string): Promise<OrderState> {
  assertId('Order', id);
  const row = await tx.order.findUnique({
    where: { id },
    select: {
      id: true,
      customerId: true,
      status: true,
      version: true,
      totalCents: true,
      _count: { select: { items: true } },
    },
  });
  if (!row) throw new NotFoundError('Order', id);
  return { ...row, lineCount: row._count.items };
}

async function loadProducts(tx: TransactionClient, ids: string[]): Promise<Map<string, ProductFacts>> {
  for (const id of ids) assertId('Product', id);
  const rows = await tx.product.findMany({
    where: { id: { in: [...new Set(ids)] } },
    select: { id: true, sku: true, name: true, priceCents: true },
  });
  return new Map(rows.map((p) => [p.id, p]));
}

/** Writes one order event into the write model. */
async function persist(tx: TransactionClient, e: PendingEvent<OrderEvent>): Promise<void> {
  const { event } = e;
  switch (event.type) {
    case 'OrderCreated': {
      const { data } = event;
      await tx.order.create({
        data: {
          id: data.orderId,
          customerId: data.customerId,
          status: 'PENDING',
          totalCents: data.totalCents,
          version: e.aggregateVersion,
          createdAt: new Date(data.createdAt),
          updatedAt: new Date(data.createdAt),
          items: {
            createMany: {
              data: data.items.map((l) => ({
                id: randomUUID(),
                lineNo: l.lineNo,
                productId: l.productId,
                quantity: l.quantity,
                unitPriceCents: l.unitPriceCents,
              })),
            },
          },
        },
      });
      return;
    }
    case 'OrderItemAdded': {
      const { item } = event.data;
      await tx.orderItem.create({
        data: {
          id: randomUUID(),
          orderId: event.data.orderId,
          lineNo: item.lineNo,
          productId: item.productId,
          quantity: item.quantity,
          unitPriceCents: item.unitPriceCents,
        },
      });
      await bump(tx, e, { totalCents: event.data.totalCents });
      return;
    }
    case 'OrderStatusChanged':
      await bump(tx, e, { status: event.data.to });
      return;
    case 'OrderCancelled':
      await bump(tx, e, { status: 'CANCELLED' });
      return;
    default:
      assertNever(event);
  }
}

/** Moves the order to the event's version; the version guard is a second line behind the advisory lock. */
async function bump(
  tx: TransactionClient,
  e: PendingEvent<OrderEvent>,
  data: { status?: OrderStatus; totalCents?: number },
): Promise<void> {
  const { count } = await tx.order.updateMany({
    where: { id: e.aggregateId, version: e.aggregateVersion - 1 },
    data: { ...data, version: e.aggregateVersion, updatedAt: new Date() },
  });
  if (count !== 1) throw new Error(`order ${e.aggregateId} moved under a held lock`);
}

async function decideAndPersist(
  tx: TransactionClient,
  command: OrderCommand,
  state: OrderState | null,
  ctx: OrderDecisionContext,
): Promise<{ events: PendingEvent[]; result: { orderId: string; version: number } }> {
  let version = state?.version ?? 0;
  const events = decideOrder(command, state, ctx).map((event) => ({
    aggregateType: 'Order' as const,
    aggregateId: command.orderId,
    aggregateVersion: ++version,
    event,
  }));
  for (const e of events) await persist(tx, e);
  return { events, result: { orderId: command.orderId, version } };
}

const IDEMPOTENCY_KEY_MAX = 200;
const noProducts: OrderDecisionContext = { customer: null, products: new Map() };

export function createOrder(
  ctx: CommandContext,
  input: { customerId: string; items: LineInput[]; idempotencyKey?: string | null },
): Promise<OrderResult> {
  authorize(ctx.subject, 'createOrder', input.customerId);
  assertId('Customer', input.customerId);
  if (input.idempotencyKey !== undefined && input.idempotencyKey !== null) {
    if (input.idempotencyKey.length < 1 || input.idempotencyKey.length > IDEMPOTENCY_KEY_MAX) {
      throw new ValidationError([
        { path: ['input', 'idempotencyKey'], message: `must be 1 to ${IDEMPOTENCY_KEY_MAX} characters` },
      ]);
    }
  }
  const orderId = randomUUID();
  const { idempotencyKey, ...rest } = input;
  return runCommand(
    ctx,
    {
      command: 'createOrder',
      // The customer lock orders this order's events after any rename or erasure in flight.
      locks: [`Customer:${input.customerId}`],
      // Keys are scoped to the customer: two customers may pick the same key.
      idempotency: idempotencyKey ? { key: `${input.customerId}:${idempotencyKey}`, input: rest } : undefined,
    },
    async (tx) => {
      const customer = await tx.customer.findUnique({
        where: { id: input.customerId },
        select: { id: true, erasedAt: true },
      });
      const products = await loadProducts(
        tx,
        input.items.map((i) => i.productId),
      );
      return decideAndPersist(
        tx,
        { type: 'CreateOrder', orderId, customerId: input.customerId, items: input.items, now: new Date() },
        null,
        { customer: customer && { id: customer.id, erased: customer.erasedAt !== null }, products },
      );
    },
  );
}

export function addOrderItem(
  ctx: CommandContext,
  input: { orderId: string; productId: string; quantity: number; expectedVersion?: number | null },
): Promise<OrderResult> {
  return runCommand(ctx, { command: 'addOrderItem', locks: [`Order:${input.orderId}`] }, async (tx) => {
    const state = await loadOrder(tx, input.orderId);
    authorize(ctx.subject, 'addOrderItem', state.customerId);
    const products = await loadProducts(tx, [input.productId]);
    return decideAndPersist(tx, { type: 'AddOrderItem', ...input }, state, { customer: null, products });
  });
}

export function updateOrderStatus(
  ctx: CommandContext,
  input: { orderId: string; status: OrderStatus; expectedVersion?: number | null },
): Promise<OrderResult> {
  return runCommand(ctx, { command: 'updateOrderStatus', locks: [`Order:${input.orderId}`] }, async (tx) => {
    const state = await loadOrder(tx, input.orderId);
    authorize(ctx.subject, 'updateOrderStatus', state.customerId);
    return decideAndPersist(tx, { type: 'UpdateOrderStatus', ...input }, state, noProducts);
  });
}

export function cancelOrder(
  ctx: CommandContext,
  input: { orderId: string; expectedVersion?: number | null },
): Promise<OrderResult> {
  return runCommand(ctx, { command: 'cancelOrder', locks: [`Order:${input.orderId}`] }, async (tx) => {
    const state = await loadOrder(tx, input.orderId);
    authorize(ctx.subject, 'cancelOrder', state.customerId);
    return decideAndPersist(tx, { type: 'CancelOrder', ...input }, state, noProducts);
  });
}
