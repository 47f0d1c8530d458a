// decideProduct, rule by rule, without a database: SKU, name and price, and a SKU
// already in use.
import { describe } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import type { ProductEvent } from '../../src/events/product.ts';
import { type CreateProduct, decideProduct } from '../../src/write/product/decide.ts';
import { type DeciderCase, decides } from '../support/decider.ts';

/** Given: whether the SKU is taken. */
type Case = DeciderCase<boolean, CreateProduct, ProductEvent>;

const decide = (command: CreateProduct, skuTaken: boolean) => decideProduct(command, skuTaken);

const PRODUCT_ID = '00000000-0000-4000-8000-0000000000b1';

function create(overrides: Partial<CreateProduct> = {}): CreateProduct {
  return {
    type: 'CreateProduct',
    productId: PRODUCT_ID,
    sku: 'KB-1',
    name: 'Keyboard',
    priceCents: 2500,
    ...overrides,
  };
}

function created(overrides: Partial<CreateProduct> = {}): ProductEvent[] {
  const { productId, sku, name, priceCents } = create(overrides);
  return [{ type: 'ProductCreated', data: { productId, sku, name, priceCents } }];
}

const SKU_MESSAGE = 'input.sku: must be 1 to 64 letters, digits, ".", "_" or "-"';
const NAME_MESSAGE = 'input.name: must be 1 to 200 characters';
const PRICE_MESSAGE = 'input.priceCents: must be an integer from 0 to 100000000';

describe('CreateProduct', () => {
  decides(decide, [
    {
      it: 'creates the product with the name trimmed',
      given: false,
      when: create({ name: '  Keyboard  ' }),
      thenEvents: created({ name: 'Keyboard' }),
    },
    ...['A', '7', 'kb.1_x-Y', `A${'b'.repeat(63)}`].map(
      (sku): Case => ({
        it: `accepts the SKU ${JSON.stringify(sku.length > 10 ? `${sku.length} characters` : sku)}`,
        given: false,
        when: create({ sku }),
        thenEvents: created({ sku }),
      }),
    ),
    ...[
      ['that is empty', ''],
      ['of 65 characters', `A${'b'.repeat(64)}`],
      ['starting with "-"', '-KB'],
      ['starting with "."', '.KB'],
      ['starting with "_"', '_KB'],
      ['with a space', 'KB 1'],
      ['with a "/"', 'KB/1'],
      ['with a letter outside ASCII', 'KÉ-1'],
    ].map(
      ([what, sku]): Case => ({
        it: `refuses a SKU ${what}`,
        given: false,
        when: create({ sku: sku! }),
        thenThrows: { error: ValidationError, message: SKU_MESSAGE },
      }),
    ),
    {
      it: 'accepts a name of 200 characters, counted once trimmed',
      given: false,
      when: create({ name: ` ${'n'.repeat(200)} ` }),
      thenEvents: created({ name: 'n'.repeat(200) }),
    },
    ...['', '  ', 'n'.repeat(201)].map(
      (name): Case => ({
        it: `refuses the name ${JSON.stringify(name.length > 10 ? `${name.length} characters` : name)}`,
        given: false,
        when: create({ name }),
        thenThrows: { error: ValidationError, message: NAME_MESSAGE },
      }),
    ),
    ...[0, 100_000_000].map(
      (priceCents): Case => ({
        it: `accepts a price of ${priceCents} cents`,
        given: false,
        when: create({ priceCents }),
        thenEvents: created({ priceCents }),
      }),
    ),
    ...[-1, 100_000_001, 9.99, Number.NaN].map(
      (priceCents): Case => ({
        it: `refuses a price of ${priceCents} cents`,
        given: false,
        when: create({ priceCents }),
        thenThrows: { error: ValidationError, message: PRICE_MESSAGE },
      }),
    ),
    {
      it: 'reports a bad SKU, name and price at once',
      given: false,
      when: create({ sku: '', name: '', priceCents: -1 }),
      thenThrows: {
        error: ValidationError,
        message: `${SKU_MESSAGE}; ${NAME_MESSAGE}; ${PRICE_MESSAGE}`,
        fields: {
          issues: [
            { path: ['input', 'sku'], message: 'must be 1 to 64 letters, digits, ".", "_" or "-"' },
            { path: ['input', 'name'], message: 'must be 1 to 200 characters' },
            { path: ['input', 'priceCents'], message: 'must be an integer from 0 to 100000000' },
          ],
        },
      },
    },
    {
      it: 'refuses a SKU already in use',
      given: true,
      when: create(),
      thenThrows: {
        error: ValidationError,
        message: 'input.sku: is already in use',
        fields: { issues: [{ path: ['input', 'sku'], message: 'is already in use' }] },
      },
    },
    {
      it: 'checks the input before whether the SKU is in use',
      given: true,
      when: create({ priceCents: -1 }),
      thenThrows: { error: ValidationError, message: PRICE_MESSAGE },
    },
  ]);
});
