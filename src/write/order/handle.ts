import { randomUUID } from 'node:crypto';
import { authorize } from '../../auth/policy.ts';
import type { TransactionClient } from '../../db/prisma.ts';
import { assertId, assertNever, isUuid, NotFoundError, ValidationError } from '../../errors.ts';
import { type PendingEvent, versioned } from '../../events/events.ts';
import type { OrderEvent, OrderStatus } from '../../events/order.ts';
import { type Order, Prisma } from '../../generated/prisma/client.ts';
import { type CommandContext, type CommandResult, runCommand } from '../command.ts';
import type { LineInput, OrderCommand, OrderDecisionContext, OrderState, ProductFacts } from './commands.ts';
import { decideOrder } from './decide.ts';

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

interface CreateOrderFacts {
  customer: { id: string; erased: boolean } | null;
  products: ProductFacts[];
}

/**
 * createOrder's facts, the customer and the products named, as one jsonb value: read in
 * the statement that takes the customer lock (CommandSpec.facts), so with a snapshot
 * from before the lock wait. Products never change once created and customers are
 * never deleted; the one fact the customer lock guards is erasure, which insertOrder
 * checks again after the wait.
 */
function createOrderFacts(customerId: string, productIds: string[]): Prisma.Sql {
  // Ids that are no UUIDs name nothing (the body reports them); they must not fail the cast.
  const ids = [...new Set(productIds.filter(isUuid))];
  return Prisma.sql`
    SELECT jsonb_build_object(
             'customer', (SELECT jsonb_build_object('id', c.id, 'erased', c.erased_at IS NOT NULL)
                            FROM customers AS c WHERE c.id = ${customerId}::uuid),
             'products', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'sku', p.sku, 'name', p.name,
                                                                      'priceCents', p.price_cents)), '[]'::jsonb)
                            FROM products AS p WHERE p.id = ANY(${ids}::uuid[])))`;
}

/**
 * Writes OrderCreated into the write model: the order and its lines in one statement,
 * unless the customer is erased. This statement starts after the customer lock was
 * granted, so it sees an erasure its previous holder committed, which createOrder's
 * facts (read before the wait ended) may have missed.
 */
async function insertOrder(tx: TransactionClient, e: PendingEvent<OrderEvent>): Promise<void> {
  const { event } = e;
  if (event.type !== 'OrderCreated') throw new Error(`${event.type} is not an order creation`);
  const { data } = event;
  const lines = await tx.$executeRaw`
    WITH created AS (
      INSERT INTO orders (id, customer_id, status, total_cents, version, created_at, updated_at)
      SELECT ${data.orderId}::uuid, c.id, 'PENDING'::"OrderStatus", ${data.total.amountCents}, ${e.aggregateVersion},
             ${data.createdAt}::timestamptz, ${data.createdAt}::timestamptz
        FROM customers AS c WHERE c.id = ${data.customerId}::uuid AND c.erased_at IS NULL
      RETURNING id)
    INSERT INTO order_items (id, order_id, line_no, product_id, quantity, unit_price_cents)
    SELECT l.id, created.id, l.line_no, l.product_id, l.quantity, l.unit_price_cents
      FROM created,
           unnest(${data.items.map(() => randomUUID())}::uuid[], ${data.items.map((l) => l.lineNo)}::int[],
                  ${data.items.map((l) => l.productId)}::uuid[], ${data.items.map((l) => l.quantity)}::int[],
                  ${data.items.map((l) => l.unitPrice.amountCents)}::int[])
           AS l(id, line_no, product_id, quantity, unit_price_cents)`;
  // An order has at least one line (decide): none written means no order was.
  if (lines === 0) throw new NotFoundError('Customer', data.customerId);
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
          unitPriceCents: item.unitPrice.amountCents,
        },
      });
      await bump(tx, e, { totalCents: event.data.total.amountCents });
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
  const before = state?.version ?? 0;
  const events = versioned('Order', command.orderId, before, decideOrder(command, state, ctx));
  for (const e of events) await persist(tx, e);
  return { events, result: { orderId: command.orderId, version: before + events.length } };
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
      facts: createOrderFacts(
        input.customerId,
        input.items.map((i) => i.productId),
      ),
    },
    async (tx, facts) => {
      for (const item of input.items) assertId('Product', item.productId);
      const { customer, products } = facts as CreateOrderFacts;
      const decided = await decideAndPersist(
        tx,
        { type: 'CreateOrder', orderId, customerId: input.customerId, items: input.items, now: new Date() },
        null,
        { customer, products: new Map(products.map((p) => [p.id, p])) },
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
    totalCents: data.total.amountCents,
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
