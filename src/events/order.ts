/** Every status an order can have (the status machine itself is the write side's: write/order/status.ts). */
export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An amount of money: integer minor units and an ISO 4217 currency code. */
export interface Money {
  amountCents: number;
  currency: string;
}

/** The one currency the catalogue prices in (events carry it, so another can follow). */
export const CURRENCY = 'EUR';

export const money = (amountCents: number, currency = CURRENCY): Money => ({ amountCents, currency });

/**
 * An order line as events carry it: product facts are copied in (products never change).
 * Schema version 2: `unitPrice` is Money (version 1 had `unitPriceCents`; see upcasters.ts).
 */
export interface OrderLine {
  lineNo: number;
  productId: string;
  sku: string;
  productName: string;
  quantity: number;
  unitPrice: Money;
}

/** Schema version 2: `total` is Money (version 1 had `totalCents`). */
export interface OrderCreated {
  type: 'OrderCreated';
  data: { orderId: string; customerId: string; items: OrderLine[]; total: Money; createdAt: string };
}
/** Schema version 2: `total` and the line's `unitPrice` are Money. */
export interface OrderItemAdded {
  type: 'OrderItemAdded';
  data: { orderId: string; item: OrderLine; total: Money };
}
export interface OrderStatusChanged {
  type: 'OrderStatusChanged';
  data: { orderId: string; from: OrderStatus; to: OrderStatus };
}
export interface OrderCancelled {
  type: 'OrderCancelled';
  data: { orderId: string; from: OrderStatus };
}
export type OrderEvent = OrderCreated | OrderItemAdded | OrderStatusChanged | OrderCancelled;

/** Units over all lines. */
export function unitsOf(lines: readonly OrderLine[]): number {
  return lines.reduce((n, l) => n + l.quantity, 0);
}
