// decideOrder, rule by rule, without a database: line and quantity limits, the
// customer and products it needs, expected versions, and every pair of the status
// machine (allowed and refused).
import { describe } from 'vitest';
import { ConcurrencyConflict, InvalidTransition, NotFoundError, ValidationError } from '../../src/errors.ts';
import { money, type OrderEvent, type OrderStatus } from '../../src/events/order.ts';
import type { LineInput, OrderCommand, OrderState, ProductFacts } from '../../src/write/order/commands.ts';
import { decideOrder } from '../../src/write/order/decide.ts';

import { type DeciderCase, decides, type Thrown } from '../support/decider.ts';

interface Given {
  order: OrderState | null;
  customer?: { id: string; erased: boolean } | null;
  products?: ProductFacts[];
}

const decide = (command: OrderCommand, given: Given) =>
  decideOrder(command, given.order, {
    customer: given.customer ?? null,
    products: new Map((given.products ?? []).map((p) => [p.id, p])),
  });

const ORDER_ID = '00000000-0000-4000-8000-0000000000a1';
const CUSTOMER_ID = '00000000-0000-4000-8000-0000000000c1';
const UNKNOWN_ID = '00000000-0000-4000-8000-00000000dead';
const NOW = new Date('2026-01-02T03:04:05.678Z');

const keyboard: ProductFacts = {
  id: '00000000-0000-4000-8000-0000000000b1',
  sku: 'KB-1',
  name: 'Keyboard',
  priceCents: 250,
};
const cable: ProductFacts = {
  id: '00000000-0000-4000-8000-0000000000b2',
  sku: 'CB-1',
  name: 'Cable',
  priceCents: 1200,
};
const catalogue = { customer: { id: CUSTOMER_ID, erased: false }, products: [keyboard, cable] };

function line(lineNo: number, product: ProductFacts, quantity: number) {
  return {
    lineNo,
    productId: product.id,
    sku: product.sku,
    productName: product.name,
    quantity,
    unitPrice: money(product.priceCents),
  };
}

function createOrder(items: LineInput[]): OrderCommand {
  return { type: 'CreateOrder', orderId: ORDER_ID, customerId: CUSTOMER_ID, items, now: NOW };
}

function order(overrides: Partial<OrderState> = {}): OrderState {
  return {
    id: ORDER_ID,
    customerId: CUSTOMER_ID,
    status: 'PENDING',
    version: 3,
    totalCents: 500,
    lineCount: 1,
    ...overrides,
  };
}

const lines = (n: number): LineInput[] => Array.from({ length: n }, () => ({ productId: keyboard.id, quantity: 1 }));

const quantityMessage = 'must be an integer from 1 to 1000';

type Case = DeciderCase<Given, OrderCommand, OrderEvent>;

/**
 * The status machine, written out here rather than read from status.ts, so that a
 * change to TRANSITIONS fails these tests: PENDING → CONFIRMED → SHIPPED → DELIVERED,
 * CANCELLED from PENDING or CONFIRMED, nothing out of DELIVERED or CANCELLED.
 */
const MACHINE: Record<OrderStatus, OrderStatus[]> = {
  PENDING: ['CONFIRMED', 'CANCELLED'],
  CONFIRMED: ['SHIPPED', 'CANCELLED'],
  SHIPPED: ['DELIVERED'],
  DELIVERED: [],
  CANCELLED: [],
};
const STATUSES = Object.keys(MACHINE) as OrderStatus[];

function moved(from: OrderStatus, to: OrderStatus): OrderEvent {
  return to === 'CANCELLED'
    ? { type: 'OrderCancelled', data: { orderId: ORDER_ID, from } }
    : { type: 'OrderStatusChanged', data: { orderId: ORDER_ID, from, to } };
}

function refused(from: OrderStatus, to: OrderStatus): Thrown {
  const allowed = MACHINE[from];
  return {
    error: InvalidTransition,
    message: `cannot go from ${from} to ${to}; allowed: ${allowed.length ? allowed.join(', ') : 'none'}`,
    fields: { from, to, allowed },
  };
}

describe('CreateOrder', () => {
  decides<Given, OrderCommand, OrderEvent>(decide, [
    {
      it: 'creates the order with numbered lines, the product facts copied in and the total',
      given: { order: null, ...catalogue },
      when: createOrder([
        { productId: keyboard.id, quantity: 2 },
        { productId: cable.id, quantity: 1 },
        { productId: keyboard.id, quantity: 3 },
      ]),
      thenEvents: [
        {
          type: 'OrderCreated',
          data: {
            orderId: ORDER_ID,
            customerId: CUSTOMER_ID,
            items: [line(1, keyboard, 2), line(2, cable, 1), line(3, keyboard, 3)],
            total: money(2 * 250 + 1200 + 3 * 250),
            createdAt: '2026-01-02T03:04:05.678Z',
          },
        },
      ],
    },
    {
      it: 'accepts 100 lines, the most an order has',
      given: { order: null, ...catalogue },
      when: createOrder(lines(100)),
      thenEvents: [
        {
          type: 'OrderCreated',
          data: {
            orderId: ORDER_ID,
            customerId: CUSTOMER_ID,
            items: Array.from({ length: 100 }, (_, i) => line(i + 1, keyboard, 1)),
            total: money(100 * 250),
            createdAt: NOW.toISOString(),
          },
        },
      ],
    },
    {
      it: 'accepts quantities of 1 and 1000, the limits',
      given: { order: null, ...catalogue },
      when: createOrder([
        { productId: keyboard.id, quantity: 1 },
        { productId: cable.id, quantity: 1000 },
      ]),
      thenEvents: [
        {
          type: 'OrderCreated',
          data: {
            orderId: ORDER_ID,
            customerId: CUSTOMER_ID,
            items: [line(1, keyboard, 1), line(2, cable, 1000)],
            total: money(250 + 1000 * 1200),
            createdAt: NOW.toISOString(),
          },
        },
      ],
    },
    {
      it: 'refuses an order without lines',
      given: { order: null, ...catalogue },
      when: createOrder([]),
      thenThrows: { error: ValidationError, message: 'input.items: must have 1 to 100 lines' },
    },
    {
      it: 'refuses an order of 101 lines',
      given: { order: null, ...catalogue },
      when: createOrder(lines(101)),
      thenThrows: { error: ValidationError, message: 'input.items: must have 1 to 100 lines' },
    },
    ...[0, -1, 1001, 1.5, Number.NaN].map(
      (quantity): Case => ({
        it: `refuses a line of quantity ${quantity}, naming the line`,
        given: { order: null, ...catalogue },
        when: createOrder([
          { productId: keyboard.id, quantity: 1 },
          { productId: cable.id, quantity },
        ]),
        thenThrows: { error: ValidationError, message: `input.items.1.quantity: ${quantityMessage}` },
      }),
    ),
    {
      it: 'reports every invalid line and the line count at once',
      given: { order: null, ...catalogue },
      when: createOrder([...lines(100), { productId: keyboard.id, quantity: 0 }]),
      thenThrows: {
        error: ValidationError,
        message: `input.items: must have 1 to 100 lines; input.items.100.quantity: ${quantityMessage}`,
        fields: {
          issues: [
            { path: ['input', 'items'], message: 'must have 1 to 100 lines' },
            { path: ['input', 'items', '100', 'quantity'], message: quantityMessage },
          ],
        },
      },
    },
    {
      it: 'refuses an order for a customer that does not exist',
      given: { order: null, customer: null, products: [keyboard] },
      when: createOrder([{ productId: keyboard.id, quantity: 1 }]),
      thenThrows: {
        error: NotFoundError,
        message: `Customer ${CUSTOMER_ID} not found`,
        fields: { entity: 'Customer', id: CUSTOMER_ID },
      },
    },
    {
      it: 'refuses an order for an erased customer as not found',
      given: { order: null, customer: { id: CUSTOMER_ID, erased: true }, products: [keyboard] },
      when: createOrder([{ productId: keyboard.id, quantity: 1 }]),
      thenThrows: { error: NotFoundError, message: `Customer ${CUSTOMER_ID} not found` },
    },
    {
      it: 'checks the input before the customer',
      given: { order: null, customer: null, products: [keyboard] },
      when: createOrder([{ productId: keyboard.id, quantity: 0 }]),
      thenThrows: { error: ValidationError, message: `input.items.0.quantity: ${quantityMessage}` },
    },
    {
      it: 'refuses a line of an unknown product, naming it',
      given: { order: null, ...catalogue },
      when: createOrder([
        { productId: keyboard.id, quantity: 1 },
        { productId: UNKNOWN_ID, quantity: 1 },
      ]),
      thenThrows: {
        error: NotFoundError,
        message: `Product ${UNKNOWN_ID} not found`,
        fields: { entity: 'Product', id: UNKNOWN_ID },
      },
    },
  ]);
});

const addItem = (quantity: number, expectedVersion?: number | null, productId = cable.id): OrderCommand => ({
  type: 'AddOrderItem',
  orderId: ORDER_ID,
  productId,
  quantity,
  expectedVersion,
});

describe('AddOrderItem', () => {
  decides<Given, OrderCommand, OrderEvent>(decide, [
    {
      it: 'adds the next line and moves the total',
      given: { order: order({ lineCount: 2, totalCents: 500 }), ...catalogue },
      when: addItem(3),
      thenEvents: [
        { type: 'OrderItemAdded', data: { orderId: ORDER_ID, item: line(3, cable, 3), total: money(4100) } },
      ],
    },
    {
      it: 'adds the 100th line',
      given: { order: order({ lineCount: 99 }), ...catalogue },
      when: addItem(1),
      thenEvents: [
        { type: 'OrderItemAdded', data: { orderId: ORDER_ID, item: line(100, cable, 1), total: money(1700) } },
      ],
    },
    {
      it: 'accepts the expected version when it is the current one',
      given: { order: order({ version: 3 }), ...catalogue },
      when: addItem(1000, 3),
      thenEvents: [
        { type: 'OrderItemAdded', data: { orderId: ORDER_ID, item: line(2, cable, 1000), total: money(1_200_500) } },
      ],
    },
    {
      it: 'ignores a null expected version',
      given: { order: order(), ...catalogue },
      when: addItem(1, null),
      thenEvents: [
        { type: 'OrderItemAdded', data: { orderId: ORDER_ID, item: line(2, cable, 1), total: money(1700) } },
      ],
    },
    ...[0, -1, 1001, 2.5].map(
      (quantity): Case => ({
        it: `refuses a quantity of ${quantity}`,
        given: { order: order(), ...catalogue },
        when: addItem(quantity),
        thenThrows: { error: ValidationError, message: `input.quantity: ${quantityMessage}` },
      }),
    ),
    {
      it: 'checks the quantity before looking for the order',
      given: { order: null, ...catalogue },
      when: addItem(0),
      thenThrows: { error: ValidationError, message: `input.quantity: ${quantityMessage}` },
    },
    {
      it: 'refuses a line for an order that does not exist',
      given: { order: null, ...catalogue },
      when: addItem(1),
      thenThrows: {
        error: NotFoundError,
        message: `Order ${ORDER_ID} not found`,
        fields: { entity: 'Order', id: ORDER_ID },
      },
    },
    {
      it: 'refuses a stale expected version, saying the current one',
      given: { order: order({ version: 3 }), ...catalogue },
      when: addItem(1, 2),
      thenThrows: {
        error: ConcurrencyConflict,
        message: `expected version 2 of ${ORDER_ID}, but it is at version 3`,
        fields: { aggregateId: ORDER_ID, expectedVersion: 2, currentVersion: 3 },
      },
    },
    {
      it: 'checks the expected version before the status',
      given: { order: order({ version: 3, status: 'SHIPPED' }), ...catalogue },
      when: addItem(1, 4),
      thenThrows: { error: ConcurrencyConflict, message: `expected version 4 of ${ORDER_ID}, but it is at version 3` },
    },
    ...(['CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const).map(
      (status): Case => ({
        it: `refuses a line for a ${status} order`,
        given: { order: order({ status }), ...catalogue },
        when: addItem(1),
        thenThrows: {
          error: InvalidTransition,
          message: `cannot go from ${status} to PENDING; allowed: ${MACHINE[status].length ? MACHINE[status].join(', ') : 'none'}`,
          fields: { from: status, to: 'PENDING', allowed: MACHINE[status] },
        },
      }),
    ),
    {
      it: 'refuses a 101st line',
      given: { order: order({ lineCount: 100 }), ...catalogue },
      when: addItem(1),
      thenThrows: { error: ValidationError, message: 'input.orderId: an order has at most 100 lines' },
    },
    {
      it: 'refuses a line of an unknown product',
      given: { order: order(), ...catalogue },
      when: addItem(1, undefined, UNKNOWN_ID),
      thenThrows: { error: NotFoundError, message: `Product ${UNKNOWN_ID} not found` },
    },
  ]);
});

const updateStatus = (status: OrderStatus, expectedVersion?: number | null): OrderCommand => ({
  type: 'UpdateOrderStatus',
  orderId: ORDER_ID,
  status,
  expectedVersion,
});

describe('UpdateOrderStatus', () => {
  decides<Given, OrderCommand, OrderEvent>(decide, [
    ...STATUSES.flatMap((from) =>
      STATUSES.map(
        (to): Case =>
          MACHINE[from].includes(to)
            ? {
                it: `moves a ${from} order to ${to}`,
                given: { order: order({ status: from }) },
                when: updateStatus(to),
                thenEvents: [moved(from, to)],
              }
            : {
                it: `refuses to move a ${from} order to ${to}`,
                given: { order: order({ status: from }) },
                when: updateStatus(to),
                thenThrows: refused(from, to),
              },
      ),
    ),
    {
      it: 'accepts the expected version when it is the current one',
      given: { order: order({ version: 7 }) },
      when: updateStatus('CONFIRMED', 7),
      thenEvents: [moved('PENDING', 'CONFIRMED')],
    },
    {
      it: 'refuses a stale expected version',
      given: { order: order({ version: 7 }) },
      when: updateStatus('CONFIRMED', 6),
      thenThrows: {
        error: ConcurrencyConflict,
        message: `expected version 6 of ${ORDER_ID}, but it is at version 7`,
        fields: { expectedVersion: 6, currentVersion: 7 },
      },
    },
    {
      it: 'checks the expected version before the transition',
      given: { order: order({ version: 7, status: 'DELIVERED' }) },
      when: updateStatus('SHIPPED', 8),
      thenThrows: { error: ConcurrencyConflict, message: `expected version 8 of ${ORDER_ID}, but it is at version 7` },
    },
    {
      it: 'refuses an order that does not exist',
      given: { order: null },
      when: updateStatus('CONFIRMED'),
      thenThrows: { error: NotFoundError, message: `Order ${ORDER_ID} not found` },
    },
  ]);
});

const cancel = (expectedVersion?: number | null): OrderCommand => ({
  type: 'CancelOrder',
  orderId: ORDER_ID,
  expectedVersion,
});

describe('CancelOrder', () => {
  decides<Given, OrderCommand, OrderEvent>(decide, [
    ...STATUSES.map(
      (from): Case =>
        MACHINE[from].includes('CANCELLED')
          ? {
              it: `cancels a ${from} order`,
              given: { order: order({ status: from }) },
              when: cancel(),
              thenEvents: [{ type: 'OrderCancelled', data: { orderId: ORDER_ID, from } }],
            }
          : {
              it: `refuses to cancel a ${from} order`,
              given: { order: order({ status: from }) },
              when: cancel(),
              thenThrows: refused(from, 'CANCELLED'),
            },
    ),
    {
      it: 'accepts the expected version when it is the current one',
      given: { order: order({ version: 2 }) },
      when: cancel(2),
      thenEvents: [{ type: 'OrderCancelled', data: { orderId: ORDER_ID, from: 'PENDING' } }],
    },
    {
      it: 'refuses a stale expected version',
      given: { order: order({ version: 2 }) },
      when: cancel(1),
      thenThrows: { error: ConcurrencyConflict, message: `expected version 1 of ${ORDER_ID}, but it is at version 2` },
    },
    {
      it: 'refuses an order that does not exist',
      given: { order: null },
      when: cancel(),
      thenThrows: { error: NotFoundError, message: `Order ${ORDER_ID} not found` },
    },
  ]);
});
