import { checkName, Issues, ValidationError } from '../../errors.ts';
import type { ProductEvent } from '../../events/product.ts';

export interface CreateProduct {
  type: 'CreateProduct';
  productId: string;
  sku: string;
  name: string;
  priceCents: number;
}

const SKU = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PRICE_MAX_CENTS = 100_000_000;

export function decideProduct(command: CreateProduct, skuTaken: boolean): ProductEvent[] {
  const issues = new Issues();
  if (!SKU.test(command.sku)) issues.add(['input', 'sku'], 'must be 1 to 64 letters, digits, ".", "_" or "-"');
  checkName(issues, ['input', 'name'], command.name);
  if (!Number.isInteger(command.priceCents) || command.priceCents < 0 || command.priceCents > PRICE_MAX_CENTS) {
    issues.add(['input', 'priceCents'], `must be an integer from 0 to ${PRICE_MAX_CENTS}`);
  }
  issues.throwIfAny();
  if (skuTaken) throw new ValidationError([{ path: ['input', 'sku'], message: 'is already in use' }]);
  const { productId, sku, priceCents } = command;
  return [{ type: 'ProductCreated', data: { productId, sku, name: command.name.trim(), priceCents } }];
}
