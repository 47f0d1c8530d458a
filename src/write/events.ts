// The envelope every domain event travels in, from decide() to the outbox and on to
// the projections. `type` equals the TypeScript type name of the event.
import type { CustomerEvent } from './customer/events.ts';
import type { OrderEvent } from './order/events.ts';
import type { ProductEvent } from './product/events.ts';

export type DomainEvent = CustomerEvent | ProductEvent | OrderEvent;
export type AggregateType = 'Customer' | 'Product' | 'Order';

export interface PendingEvent<E extends DomainEvent = DomainEvent> {
  aggregateType: AggregateType;
  aggregateId: string;
  /** Version of the aggregate after this event. */
  aggregateVersion: number;
  event: E;
}

/** Schema version of each event's payload; bump when a payload's shape changes. */
export const SCHEMA_VERSIONS: Record<DomainEvent['type'], number> = {
  CustomerCreated: 1,
  CustomerRenamed: 1,
  CustomerErased: 1,
  ProductCreated: 1,
  OrderCreated: 1,
  OrderItemAdded: 1,
  OrderStatusChanged: 1,
  OrderCancelled: 1,
};
