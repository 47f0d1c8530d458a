// One JSON log line per GraphQL operation (request id, operation, subject id,
// duration), and no customer name or email in any log line, whatever the commands.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { createTestApp, type TestApp } from '../support/app.ts';
import { CreateCustomer, CreateOrder, RenameCustomer } from '../support/documents.ts';
import { givenProduct } from '../support/fixtures.ts';
import { caughtUp } from '../support/projections.ts';

const CustomerById = graphql(`
  query CustomerById($id: ID!) {
    customer(id: $id) { id name email }
  }
`);

const SECRETS = {
  name: 'Ottilie Vanderschoot',
  renamed: 'Ottilie Brightwater-Lune',
  email: 'ottilie.vanderschoot@example.org',
  invalidName: 'Quennell Abernathy',
  invalidEmail: 'quennell.at.nowhere',
};

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
  await t.startEngine();
});
afterAll(async () => t?.close());

describe('logs', () => {
  it('write one line per GraphQL operation and never a customer name or email', async () => {
    const product = await givenProduct(t);
    const created = await t.gql(CreateCustomer, { input: { name: SECRETS.name, email: SECRETS.email } });
    if (created.data?.createCustomer.__typename !== 'CustomerPayload') throw new Error(JSON.stringify(created));
    const customerId = created.data.createCustomer.customer.id;
    const renamed = await t.gql(RenameCustomer, { input: { customerId, name: SECRETS.renamed } });
    expect(renamed.data?.renameCustomer.__typename).toBe('CustomerPayload');
    const invalid = await t.gql(CreateCustomer, { input: { name: SECRETS.invalidName, email: SECRETS.invalidEmail } });
    expect(invalid.data?.createCustomer.__typename).toBe('ValidationError');
    const order = await t.gql(CreateOrder, { input: { customerId, items: [{ productId: product.id, quantity: 1 }] } });
    expect(order.data?.createOrder.__typename).toBe('OrderPayload');
    // Queries read the read models: wait until they have applied the writes above.
    await caughtUp(t.pools);
    const read = await t.gql(CustomerById, { id: customerId });
    expect(read.data?.customer?.email).toBe(SECRETS.email);
    const asCustomer = await t.gql(CustomerById, { id: customerId }, await t.customerToken(customerId));
    expect(asCustomer.data?.customer?.name).toBe(SECRETS.renamed);
    await caughtUp(t.pools);

    const operations = t.logs.filter((l) => l.msg === 'graphql operation');
    const renameLine = operations.find((l) => l.operationName === 'RenameCustomer');
    expect(renameLine).toMatchObject({
      operationType: 'mutation',
      field: 'renameCustomer',
      subject: 'test-admin',
      role: 'admin',
      errors: 0,
    });
    expect(typeof renameLine?.requestId).toBe('string');
    expect(typeof renameLine?.durationMs).toBe('number');
    expect(operations.find((l) => l.operationName === 'CustomerById' && l.role === 'customer')).toMatchObject({
      subject: `customer:${customerId}`,
    });
    for (const name of ['CreateCustomer', 'RenameCustomer', 'CreateOrder', 'CustomerById']) {
      expect(
        operations.some((l) => l.operationName === name),
        name,
      ).toBe(true);
    }
    expect(operations.filter((l) => l.operationName === 'CreateCustomer')).toHaveLength(2);

    const text = JSON.stringify(t.logs).toLowerCase();
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret.toLowerCase());
    expect(text).not.toContain('ottilie');
    expect(text).not.toContain('@example.org');
  });
});
