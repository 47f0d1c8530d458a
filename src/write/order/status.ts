import type { OrderStatus } from '../../events/order.ts';

/** The status machine: PENDING → CONFIRMED → SHIPPED → DELIVERED; CANCELLED from PENDING or CONFIRMED. */
export const TRANSITIONS: Record<OrderStatus, OrderStatus[]> = {
  PENDING: ['CONFIRMED', 'CANCELLED'],
  CONFIRMED: ['SHIPPED', 'CANCELLED'],
  SHIPPED: ['DELIVERED'],
  DELIVERED: [],
  CANCELLED: [],
};
