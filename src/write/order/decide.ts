import { assertNever, ConcurrencyConflict, InvalidTransition, Issues, NotFoundError } from '../../errors.ts';
import { money, type OrderEvent, type OrderLine } from '../../events/order.ts';
import type { LineInput, OrderCommand, OrderDecisionContext, OrderState } from './commands.ts';
import { TRANSITIONS } from './status.ts';

export const QUANTITY_MIN = 1;
export const QUANTITY_MAX = 1000;
export const LINES_MAX = 100;

function checkQuantity(issues: Issues, path: (string | number)[], quantity: number): void {
  if (!Number.isInteger(quantity) || quantity < QUANTITY_MIN || quantity > QUANTITY_MAX) {
    issues.add(path, `must be an integer from ${QUANTITY_MIN} to ${QUANTITY_MAX}`);
  }
}

function lineFor(input: LineInput, lineNo: number, ctx: OrderDecisionContext): OrderLine {
  const product = ctx.products.get(input.productId);
  if (!product) throw new NotFoundError('Product', input.productId);
  return {
    lineNo,
    productId: product.id,
    sku: product.sku,
    productName: product.name,
    quantity: input.quantity,
    unitPrice: money(product.priceCents),
  };
}

function checkVersion(state: OrderState, expected: number | null | undefined): void {
  if (expected !== undefined && expected !== null && expected !== state.version) {
    throw new ConcurrencyConflict(state.id, expected, state.version);
  }
}

function transition(state: OrderState, to: OrderState['status']): OrderEvent {
  const allowed = TRANSITIONS[state.status];
  if (!allowed.includes(to)) throw new InvalidTransition(state.status, to, allowed);
  return to === 'CANCELLED'
    ? { type: 'OrderCancelled', data: { orderId: state.id, from: state.status } }
    : { type: 'OrderStatusChanged', data: { orderId: state.id, from: state.status, to } };
}

export function decideOrder(command: OrderCommand, state: OrderState | null, ctx: OrderDecisionContext): OrderEvent[] {
  switch (command.type) {
    case 'CreateOrder': {
      const issues = new Issues();
      if (command.items.length < 1 || command.items.length > LINES_MAX) {
        issues.add(['input', 'items'], `must have 1 to ${LINES_MAX} lines`);
      }
      command.items.forEach((item, i) => {
        checkQuantity(issues, ['input', 'items', i, 'quantity'], item.quantity);
      });
      issues.throwIfAny();
      if (!ctx.customer || ctx.customer.erased) throw new NotFoundError('Customer', command.customerId);
      const items = command.items.map((item, i) => lineFor(item, i + 1, ctx));
      const total = money(items.reduce((sum, l) => sum + l.quantity * l.unitPrice.amountCents, 0));
      return [
        {
          type: 'OrderCreated',
          data: {
            orderId: command.orderId,
            customerId: command.customerId,
            items,
            total,
            createdAt: command.now.toISOString(),
          },
        },
      ];
    }
    case 'AddOrderItem': {
      const issues = new Issues();
      checkQuantity(issues, ['input', 'quantity'], command.quantity);
      issues.throwIfAny();
      if (!state) throw new NotFoundError('Order', command.orderId);
      checkVersion(state, command.expectedVersion);
      if (state.status !== 'PENDING') throw new InvalidTransition(state.status, 'PENDING', TRANSITIONS[state.status]);
      if (state.lineCount >= LINES_MAX) {
        issues.add(['input', 'orderId'], `an order has at most ${LINES_MAX} lines`);
        issues.throwIfAny();
      }
      const item = lineFor(command, state.lineCount + 1, ctx);
      const total = money(state.totalCents + item.quantity * item.unitPrice.amountCents);
      return [{ type: 'OrderItemAdded', data: { orderId: state.id, item, total } }];
    }
    case 'UpdateOrderStatus': {
      if (!state) throw new NotFoundError('Order', command.orderId);
      checkVersion(state, command.expectedVersion);
      return [transition(state, command.status)];
    }
    case 'CancelOrder': {
      if (!state) throw new NotFoundError('Order', command.orderId);
      checkVersion(state, command.expectedVersion);
      return [transition(state, 'CANCELLED')];
    }
    default:
      return assertNever(command);
  }
}
