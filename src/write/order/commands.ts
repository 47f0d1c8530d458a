import type { OrderStatus } from '../../events/order.ts';

export interface LineInput {
  productId: string;
  quantity: number;
}
export interface CreateOrder {
  type: 'CreateOrder';
  orderId: string;
  customerId: string;
  items: LineInput[];
  now: Date;
}
export interface AddOrderItem {
  type: 'AddOrderItem';
  orderId: string;
  productId: string;
  quantity: number;
  expectedVersion?: number | null;
}
export interface UpdateOrderStatus {
  type: 'UpdateOrderStatus';
  orderId: string;
  status: OrderStatus;
  expectedVersion?: number | null;
}
export interface CancelOrder {
  type: 'CancelOrder';
  orderId: string;
  expectedVersion?: number | null;
}
export type OrderCommand = CreateOrder | AddOrderItem | UpdateOrderStatus | CancelOrder;

export interface OrderState {
  id: string;
  customerId: string;
  status: OrderStatus;
  version: number;
  totalCents: number;
  lineCount: number;
}

export interface ProductFacts {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
}

/** What decide() may know besides the order: the customer and the products named. */
export interface OrderDecisionContext {
  customer: { id: string; erased: boolean } | null;
  products: Map<string, ProductFacts>;
}
