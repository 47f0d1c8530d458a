import { randomUUID } from 'node:crypto';
import { authorize } from '../../auth/policy.ts';
import type { TransactionClient } from '../../db/prisma.ts';
import type { Order } from '../../generated/prisma/client.ts';
import { type CommandContext, type CommandResult, runCommand } from '../command.ts';
import { assertId, assertNever, NotFoundError, ValidationError } from '../errors.ts';
import type { PendingEvent } from '../events.ts';
import type { LineInput, OrderCommand, OrderDecisionContext, OrderState, ProductFacts } from './commands.ts';
import { decideOrder } from './decide.ts';
import type { OrderEvent } from './events.ts';
import type { OrderStatus } from './status.ts';

/**
 * `order` is the order as the command left it, when the command wrote it all (a new
 * order; not on an idempotent replay), so the caller need not read it back.
 */
export type OrderResult = CommandResult<{ orderId: string; version: number }> & { order?: Order };

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

/** createOrder's facts, the customer and the products named, in one statement. */
async function loadCustomerAndProducts(
  tx: TransactionClient,
  customerId: string,
  productIds: string[],
): Promise<OrderDecisionContext> {
  for (const id of productIds) assertId('Product', id);
  const rows = await tx.$queryRaw<
    { customer: boolean; id: string; erased: boolean; sku: string; name: string; price_cents: number }[]
  >`SELECT true AS customer, c.id::text AS id, c.erased_at IS NOT NULL AS erased, '' AS sku, '' AS name,
           0 AS price_cents
      FROM customers AS c WHERE c.id = ${customerId}::uuid
    UNION ALL
    SELECT false, p.id::text, false, p.sku, p.name, p.price_cents
      FROM products AS p WHERE p.id = ANY(${[...new Set(productIds)]}::uuid[])`;
  const customer = rows.find((r) => r.customer);
  return {
    customer: customer ? { id: customer.id, erased: customer.erased } : null,
    products: new Map(
      rows
        .filter((r) => !r.customer)
        .map((p) => [p.id, { id: p.id, sku: p.sku, name: p.name, priceCents: p.price_cents }]),
    ),
  };
}

/** Writes OrderCreated into the write model: the order and its lines in one statement. */
async function insertOrder(tx: TransactionClient, e: PendingEvent<OrderEvent>): Promise<void> {
  const { event } = e;
  if (event.type !== 'OrderCreated') throw new Error(`${event.type} is not an order creation`);
  const { data } = event;
  await tx.$executeRaw`
    WITH created AS (
      INSERT INTO orders (id, customer_id, status, total_cents, version, created_at, updated_at)
      VALUES (${data.orderId}::uuid, ${data.customerId}::uuid, 'PENDING', ${data.totalCents}, ${e.aggregateVersion},
              ${data.createdAt}::timestamptz, ${data.createdAt}::timestamptz))
    INSERT INTO order_items (id, order_id, line_no, product_id, quantity, unit_price_cents)
    SELECT l.id, ${data.orderId}::uuid, l.line_no, l.product_id, l.quantity, l.unit_price_cents
      FROM unnest(${data.items.map(() => randomUUID())}::uuid[], ${data.items.map((l) => l.lineNo)}::int[],
                  ${data.items.map((l) => l.productId)}::uuid[], ${data.items.map((l) => l.quantity)}::int[],
                  ${data.items.map((l) => l.unitPriceCents)}::int[])
           AS l(id, line_no, product_id, quantity, unit_price_cents)`;
}

/** Writes one order event into the write model. */
async function persist(tx: TransactionClient, e: PendingEvent<OrderEvent>): Promise<void> {
  const { event } = e;
  switch (event.type) {
    case 'OrderCreated':
      await insertOrder(tx, e);
      return;
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
    // PostgreSQL text cannot hold U+0000.
    if (input.idempotencyKey.includes('\u0000')) {
      throw new ValidationError([{ path: ['input', 'idempotencyKey'], message: 'must not contain U+0000' }]);
    }
  }
  const orderId = randomUUID();
  const { idempotencyKey, ...rest } = input;
  let created: Order | undefined;
  const run = runCommand(
    ctx,
    {
      command: 'createOrder',
      // The customer lock orders this order's events after any rename or erasure in flight.
      locks: [`Customer:${input.customerId}`],
      // Keys are scoped to the customer: two customers may pick the same key.
      idempotency: idempotencyKey ? { key: `${input.customerId}:${idempotencyKey}`, input: rest } : undefined,
    },
    async (tx) => {
      const { customer, products } = await loadCustomerAndProducts(
        tx,
        input.customerId,
        input.items.map((i) => i.productId),
      );
      const decided = await decideAndPersist(
        tx,
        { type: 'CreateOrder', orderId, customerId: input.customerId, items: input.items, now: new Date() },
        null,
        { customer, products },
      );
      created = orderRowOf(decided.events[0]!);
      return decided;
    },
  );
  // Set only when this call wrote the order (and, having returned, committed it).
  return run.then((result) => (created ? { ...result, order: created } : result));
}

/** The orders row OrderCreated wrote (insertOrder). */
function orderRowOf(e: PendingEvent): Order {
  if (e.event.type !== 'OrderCreated') throw new Error(`${e.event.type} is not an order creation`);
  const { data } = e.event;
  const at = new Date(data.createdAt);
  return {
    id: data.orderId,
    customerId: data.customerId,
    status: 'PENDING',
    totalCents: data.totalCents,
    version: e.aggregateVersion,
    createdAt: at,
    updatedAt: at,
  };
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
