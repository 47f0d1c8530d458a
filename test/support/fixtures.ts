import { expect } from 'vitest';
import type { TestApp } from './app.ts';
import { CreateCustomer, CreateOrder, CreateProduct } from './documents.ts';

let counter = 0;

export async function givenProduct(t: TestApp, overrides: { sku?: string; name?: string; priceCents?: number } = {}) {
  counter += 1;
  const input = {
    sku: `SKU-${process.pid}-${counter}`,
    name: `Product ${counter}`,
    priceCents: 1000 + counter,
    ...overrides,
  };
  const res = await t.gql(CreateProduct, { input });
  const result = res.data?.createProduct;
  if (result?.__typename !== 'ProductPayload') throw new Error(`createProduct failed: ${JSON.stringify(res)}`);
  return result.product;
}

export async function givenCustomer(t: TestApp, overrides: { name?: string; email?: string } = {}) {
  counter += 1;
  const input = { name: `Customer ${counter}`, email: `c${counter}.${process.pid}@example.com`, ...overrides };
  const res = await t.gql(CreateCustomer, { input });
  const result = res.data?.createCustomer;
  if (result?.__typename !== 'CustomerPayload') throw new Error(`createCustomer failed: ${JSON.stringify(res)}`);
  return result.customer;
}

export async function givenOrder(
  t: TestApp,
  customerId: string,
  items: { productId: string; quantity: number }[],
  token?: string,
) {
  const res = await t.gql(CreateOrder, { input: { customerId, items } }, token);
  const result = res.data?.createOrder;
  expect(result?.__typename, JSON.stringify(res)).toBe('OrderPayload');
  if (result?.__typename !== 'OrderPayload') throw new Error('unreachable');
  return result;
}
