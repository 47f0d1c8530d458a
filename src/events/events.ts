// The envelope every domain event travels in, from decide() to the outbox and on to
// the projections. `type` equals the TypeScript type name of the event.
import type { CustomerEvent } from './customer.ts';
import type { OrderEvent } from './order.ts';
import type { ProductEvent } from './product.ts';

export type DomainEvent = CustomerEvent | ProductEvent | OrderEvent;
export type AggregateType = 'Customer' | 'Product' | 'Order';

export interface PendingEvent<E extends DomainEvent = DomainEvent> {
  aggregateType: AggregateType;
  aggregateId: string;
  /** Version of the aggregate after this event. */
  aggregateVersion: number;
  event: E;
}

/**
 * Schema version of each event's payload, as new events are written. Bump it when a
 * payload's shape changes, and register the upcaster from the previous version in
 * upcasters.ts: stored events of every older version are read in the current shape.
 */
export const SCHEMA_VERSIONS: Record<DomainEvent['type'], number> = {
  CustomerCreated: 1,
  CustomerRenamed: 1,
  CustomerErased: 1,
  ProductCreated: 1,
  OrderCreated: 2,
  OrderItemAdded: 2,
  OrderStatusChanged: 1,
  OrderCancelled: 1,
};

type DataKey<T extends DomainEvent['type']> = keyof Extract<DomainEvent, { type: T }>['data'] & string;

/**
 * The payload fields of each event that hold a customer's personal data. Erasing a
 * customer sets these to null in the customer's events and in its orders' events (see
 * write/customer/erasure.ts). An event that copies a name or email in must list it here.
 */
export const PERSONAL_DATA: { [T in DomainEvent['type']]: readonly DataKey<T>[] } = {
  CustomerCreated: ['name', 'email'],
  CustomerRenamed: ['name'],
  CustomerErased: [],
  ProductCreated: [],
  OrderCreated: [],
  OrderItemAdded: [],
  OrderStatusChanged: [],
  OrderCancelled: [],
};

/** A decision's events as the aggregate's next versions after `version` (0: a new aggregate). */
export function versioned<E extends DomainEvent>(
  aggregateType: AggregateType,
  aggregateId: string,
  version: number,
  events: E[],
): PendingEvent<E>[] {
  return events.map((event, i) => ({ aggregateType, aggregateId, aggregateVersion: version + i + 1, event }));
}
