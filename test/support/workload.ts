// A mixed command workload run straight through the command handlers (no HTTP), for
// load, crash and equivalence tests. Domain rejections (invalid transitions, stale
// versions) are part of the mix; anything else fails the run.
import type { App } from '../../src/app.ts';
import { commandContextFor } from '../../src/app.ts';
import { DomainError } from '../../src/errors.ts';
import { ORDER_STATUSES } from '../../src/events/order.ts';
import type { CommandContext } from '../../src/write/command.ts';
import { createCustomer, renameCustomer } from '../../src/write/customer/handle.ts';
import { addOrderItem, cancelOrder, createOrder, updateOrderStatus } from '../../src/write/order/handle.ts';
import { createProduct } from '../../src/write/product/handle.ts';

export function adminContext(app: App): CommandContext {
  return commandContextFor(app, { sub: 'workload', role: 'admin' });
}

export interface Catalogue {
  productIds: string[];
  customerIds: string[];
  orderIds: string[];
}

let run = 0;

export async function givenCatalogue(app: App, products = 12, customers = 10): Promise<Catalogue> {
  run += 1;
  const ctx = adminContext(app);
  const productIds: string[] = [];
  for (let i = 0; i < products; i++) {
    const names = ['Widget', 'Gadget', 'Sprocket', 'Gizmo', 'Doohickey', 'Flange'];
    const p = await createProduct(ctx, {
      sku: `W${run}-${process.pid}-${i}`,
      name: `${names[i % names.length]} ${i}`,
      priceCents: 100 + i * 37,
    });
    productIds.push(p.productId);
  }
  const customerIds: string[] = [];
  for (let i = 0; i < customers; i++) {
    const c = await createCustomer(ctx, { name: `Shopper ${run}-${i}`, email: `shopper${run}.${i}@example.com` });
    customerIds.push(c.customerId);
  }
  return { productIds, customerIds, orderIds: [] };
}

const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

export interface WorkloadResult {
  acknowledged: number;
  rejected: number;
}

export async function runWorkload(
  app: App,
  catalogue: Catalogue,
  options: { writers: number; commandsPerWriter: number; stop?: () => boolean },
): Promise<WorkloadResult> {
  const ctx = adminContext(app);
  const result: WorkloadResult = { acknowledged: 0, rejected: 0 };
  async function one(): Promise<void> {
    const roll = Math.random();
    const { orderIds, customerIds, productIds } = catalogue;
    if (roll < 0.35 || orderIds.length < 5) {
      const lines = 1 + Math.floor(Math.random() * 4);
      const r = await createOrder(ctx, {
        customerId: pick(customerIds),
        items: Array.from({ length: lines }, () => ({
          productId: pick(productIds),
          quantity: 1 + Math.floor(Math.random() * 5),
        })),
      });
      orderIds.push(r.orderId);
    } else if (roll < 0.55) {
      await addOrderItem(ctx, {
        orderId: pick(orderIds),
        productId: pick(productIds),
        quantity: 1 + Math.floor(Math.random() * 3),
      });
    } else if (roll < 0.8) {
      await updateOrderStatus(ctx, { orderId: pick(orderIds), status: pick([...ORDER_STATUSES]) });
    } else if (roll < 0.9) {
      await cancelOrder(ctx, { orderId: pick(orderIds) });
    } else if (roll < 0.97) {
      await renameCustomer(ctx, {
        customerId: pick(customerIds),
        name: `Renamed ${Math.random().toString(36).slice(2, 8)}`,
      });
    } else {
      const c = await createCustomer(ctx, {
        name: 'Late Shopper',
        email: `late${Math.random().toString(36).slice(2)}@example.com`,
      });
      customerIds.push(c.customerId);
    }
  }
  await Promise.all(
    Array.from({ length: options.writers }, async () => {
      for (let i = 0; i < options.commandsPerWriter && !options.stop?.(); i++) {
        try {
          await one();
          result.acknowledged += 1;
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          result.rejected += 1;
        }
      }
    }),
  );
  return result;
}
