// Stored events built in memory, for the read models' unit tests (no database).

import type { CustomerEvent } from '../../src/events/customer.ts';
import type { DomainEvent } from '../../src/events/events.ts';
import { SCHEMA_VERSIONS } from '../../src/events/events.ts';
import { money, type OrderEvent, type OrderLine } from '../../src/events/order.ts';
import type { StoredEvent } from '../../src/outbox/append.ts';

let seq = 0n;

function stored<E extends DomainEvent>(
  aggregateType: StoredEvent['aggregateType'],
  aggregateId: string,
  version: number,
  event: E,
): StoredEvent<E> {
  seq += 1n;
  return {
    aggregateType,
    aggregateId,
    aggregateVersion: version,
    event,
    position: { txId: 1000n + seq, seq },
    eventId: `00000000-0000-4000-8000-${seq.toString().padStart(12, '0')}`,
    schemaVersion: SCHEMA_VERSIONS[event.type],
    occurredAt: new Date(Date.UTC(2026, 11, 1, 12, 0, Number(seq % 60n))),
    actor: null,
    traceContext: null,
  };
}

export const ORDER = '11111111-1111-4111-8111-111111111111';
export const CUSTOMER = '22222222-2222-4222-8222-222222222222';

export function line(lineNo: number, quantity = 1, unitPriceCents = 250): OrderLine {
  return {
    lineNo,
    productId: `33333333-3333-4333-8333-${String(lineNo).padStart(12, '0')}`,
    sku: `SKU-${lineNo}`,
    productName: `Part ${lineNo}`,
    quantity,
    unitPrice: money(unitPriceCents),
  };
}

const total = (lines: OrderLine[]) => money(lines.reduce((n, l) => n + l.quantity * l.unitPrice.amountCents, 0));

export const orderEvents = {
  created(lines: OrderLine[], createdAt = '2026-11-30T23:59:59.999Z'): StoredEvent<OrderEvent> {
    return stored('Order', ORDER, 1, {
      type: 'OrderCreated',
      data: { orderId: ORDER, customerId: CUSTOMER, items: lines, total: total(lines), createdAt },
    });
  },
  itemAdded(version: number, item: OrderLine, totalCents: number): StoredEvent<OrderEvent> {
    return stored('Order', ORDER, version, {
      type: 'OrderItemAdded',
      data: { orderId: ORDER, item, total: money(totalCents) },
    });
  },
  statusChanged(version: number, from: 'PENDING' | 'CONFIRMED', to: 'CONFIRMED' | 'SHIPPED'): StoredEvent<OrderEvent> {
    return stored('Order', ORDER, version, { type: 'OrderStatusChanged', data: { orderId: ORDER, from, to } });
  },
  cancelled(version: number): StoredEvent<OrderEvent> {
    return stored('Order', ORDER, version, { type: 'OrderCancelled', data: { orderId: ORDER, from: 'PENDING' } });
  },
};

export const customerEvents = {
  created(name: string, email: string): StoredEvent<CustomerEvent> {
    return stored('Customer', CUSTOMER, 1, { type: 'CustomerCreated', data: { customerId: CUSTOMER, name, email } });
  },
};
