/** Every status an order can have (the status machine itself is the write side's: write/order/status.ts). */
export const ORDER_STATUSES = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An order line as events carry it: product facts are copied in (products never change). */
export interface OrderLine {
  lineNo: number;
  productId: string;
  sku: string;
  productName: string;
  quantity: number;
  unitPriceCents: number;
}

export interface OrderCreated {
  type: 'OrderCreated';
  data: { orderId: string; customerId: string; items: OrderLine[]; totalCents: number; createdAt: string };
}
export interface OrderItemAdded {
  type: 'OrderItemAdded';
  data: { orderId: string; item: OrderLine; totalCents: number };
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
