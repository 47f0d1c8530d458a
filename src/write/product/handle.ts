import { randomUUID } from 'node:crypto';
import { authorize } from '../../auth/policy.ts';
import { type CommandContext, type CommandResult, runCommand } from '../command.ts';
import { decideProduct } from './decide.ts';

export type ProductResult = CommandResult<{ productId: string; version: number }>;

export function createProduct(
  ctx: CommandContext,
  input: { sku: string; name: string; priceCents: number },
): Promise<ProductResult> {
  authorize(ctx.subject, 'createProduct');
  const productId = randomUUID();
  // The SKU lock makes "is it taken?" and the insert one step under concurrency.
  return runCommand(ctx, { command: 'createProduct', locks: [`sku:${input.sku}`] }, async (tx) => {
    const taken = (await tx.product.count({ where: { sku: input.sku } })) > 0;
    const [event] = decideProduct({ type: 'CreateProduct', productId, ...input }, taken);
    const { data } = event!;
    await tx.product.create({ data: { id: productId, sku: data.sku, name: data.name, priceCents: data.priceCents } });
    return {
      events: [{ aggregateType: 'Product', aggregateId: productId, aggregateVersion: 1, event: event! }],
      result: { productId, version: 1 },
    };
  });
}
