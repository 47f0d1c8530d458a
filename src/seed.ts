// A small demo catalogue and customers for a first start, written through the
// ordinary commands so their events reach the outbox and every read model.
import type { Subject } from './auth/subject.ts';
import type { CommandContext } from './write/command.ts';
import { createCustomer } from './write/customer/handle.ts';
import { createOrder } from './write/order/handle.ts';
import { createProduct } from './write/product/handle.ts';

export const SEED_ADMIN: Subject = { sub: 'system:seed', role: 'admin' };

const PRODUCTS = [
  { sku: 'KB-MECH-01', name: 'Mechanical keyboard', priceCents: 12900 },
  { sku: 'MS-ERGO-02', name: 'Ergonomic mouse', priceCents: 5900 },
  { sku: 'MN-27-4K', name: '27" 4K monitor', priceCents: 38900 },
  { sku: 'HD-USB-C', name: 'USB-C hub', priceCents: 4500 },
  { sku: 'CB-HDMI-2M', name: 'HDMI cable 2 m', priceCents: 1200 },
  { sku: 'LT-DESK-LED', name: 'LED desk lamp', priceCents: 3400 },
];

const CUSTOMERS = [
  { name: 'Ada Lovelace', email: 'ada@example.com' },
  { name: 'Grace Hopper', email: 'grace@example.com' },
  { name: 'Edsger Dijkstra', email: 'edsger@example.com' },
];

/** Seeds only an empty database; returns whether it did. */
export async function seedIfEmpty(ctx: CommandContext): Promise<boolean> {
  if ((await ctx.prisma.product.count()) > 0) return false;
  const products = [];
  for (const p of PRODUCTS) products.push(await createProduct(ctx, p));
  const customers = [];
  for (const c of CUSTOMERS) customers.push(await createCustomer(ctx, c));
  await createOrder(ctx, {
    customerId: customers[0]!.customerId,
    items: [
      { productId: products[0]!.productId, quantity: 1 },
      { productId: products[1]!.productId, quantity: 2 },
    ],
  });
  await createOrder(ctx, {
    customerId: customers[1]!.customerId,
    items: [{ productId: products[2]!.productId, quantity: 1 }],
  });
  return true;
}
