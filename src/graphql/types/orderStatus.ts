import { ORDER_STATUSES } from '../../events/order.ts';
import { builder } from '../builder.ts';

export const OrderStatusEnum = builder.enumType('OrderStatus', {
  description: 'PENDING → CONFIRMED → SHIPPED → DELIVERED; CANCELLED from PENDING or CONFIRMED only.',
  values: ORDER_STATUSES,
});
