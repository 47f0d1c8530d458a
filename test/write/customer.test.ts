import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { changesNothing } from '../support/db.ts';
import { CreateCustomer, EraseCustomer, RenameCustomer } from '../support/documents.ts';
import { expectMaskedInternalError, failingAfterAppend } from '../support/failure.ts';
import { givenCustomer } from '../support/fixtures.ts';
import { expectOneTransaction, outboxEnd } from '../support/outbox.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

async function customerRow(id: string) {
  const { rows } = await t.pool.query(
    'SELECT name, email, version, erased_at IS NOT NULL AS erased FROM customers WHERE id = $1',
    [id],
  );
  return rows[0];
}

describe('createCustomer', () => {
  it('writes the customer and one CustomerCreated outbox row in one transaction', async () => {
    const end = await outboxEnd(t.pool);
    const res = await t.gql(
      CreateCustomer,
      { input: { name: '  Ada Lovelace  ', email: 'Ada@Example.COM' } },
      t.supportToken,
    );
    const result = res.data?.createCustomer;
    if (result?.__typename !== 'CustomerPayload') throw new Error(JSON.stringify(res));
    const id = result.customer.id;
    expect(result.version).toBe(1);
    expect(await customerRow(id)).toEqual({
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      version: 1,
      erased: false,
    });
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'CustomerCreated',
          aggregateType: 'Customer',
          aggregateId: id,
          aggregateVersion: 1,
          actor: 'test-support',
          payload: { customerId: id, name: 'Ada Lovelace', email: 'ada@example.com' },
        },
      ],
      wrote: [{ table: 'customers', where: { id } }],
    });
  });

  it('writes neither the customer nor its event when the command fails inside its transaction', async () => {
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () =>
        t.gql(CreateCustomer, { input: { name: 'Never Stored', email: 'never@example.com' } }),
      ),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'createCustomer', appended: [expect.objectContaining({ eventType: 'CustomerCreated' })] },
    ]);
  });
});

describe('renameCustomer', () => {
  it('renames the customer and writes one CustomerRenamed outbox row in one transaction', async () => {
    const customer = await givenCustomer(t, { name: 'Grace Murray' });
    const end = await outboxEnd(t.pool);
    const res = await t.gql(
      RenameCustomer,
      { input: { customerId: customer.id, name: ' Grace Hopper ' } },
      await t.customerToken(customer.id),
    );
    const result = res.data?.renameCustomer;
    if (result?.__typename !== 'CustomerPayload') throw new Error(JSON.stringify(res));
    expect(result.version).toBe(2);
    expect(result.customer.name).toBe('Grace Hopper');
    expect(await customerRow(customer.id)).toMatchObject({ name: 'Grace Hopper', version: 2 });
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'CustomerRenamed',
          aggregateType: 'Customer',
          aggregateId: customer.id,
          aggregateVersion: 2,
          actor: `customer:${customer.id}`,
          payload: { customerId: customer.id, name: 'Grace Hopper' },
        },
      ],
      wrote: [{ table: 'customers', where: { id: customer.id } }],
    });
  });

  it('keeps the old name and writes no event when the command fails inside its transaction', async () => {
    const customer = await givenCustomer(t, { name: 'Kept Name' });
    const rowBefore = await customerRow(customer.id);
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () => t.gql(RenameCustomer, { input: { customerId: customer.id, name: 'Lost Name' } })),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'renameCustomer', appended: [expect.objectContaining({ eventType: 'CustomerRenamed' })] },
    ]);
    expect(await customerRow(customer.id)).toEqual(rowBefore);
  });
});

describe('eraseCustomer', () => {
  it('removes name and email and writes one CustomerErased outbox row in one transaction', async () => {
    const customer = await givenCustomer(t);
    const end = await outboxEnd(t.pool);
    const res = await t.gql(EraseCustomer, { input: { customerId: customer.id } });
    const result = res.data?.eraseCustomer;
    if (result?.__typename !== 'CustomerPayload') throw new Error(JSON.stringify(res));
    expect(result.version).toBe(2);
    expect(result.customer).toMatchObject({ name: null, email: null, erased: true });
    expect(await customerRow(customer.id)).toEqual({ name: null, email: null, version: 2, erased: true });
    await expectOneTransaction(t.pool, {
      end,
      position: result.position,
      events: [
        {
          eventType: 'CustomerErased',
          aggregateType: 'Customer',
          aggregateId: customer.id,
          aggregateVersion: 2,
          actor: 'test-admin',
          payload: { customerId: customer.id },
        },
      ],
      wrote: [{ table: 'customers', where: { id: customer.id } }],
    });
  });

  it('keeps the personal data and writes no event when the command fails inside its transaction', async () => {
    const customer = await givenCustomer(t);
    const rowBefore = await customerRow(customer.id);
    const { response, seen } = await changesNothing(t.pool, () =>
      failingAfterAppend(t, () => t.gql(EraseCustomer, { input: { customerId: customer.id } })),
    );
    expectMaskedInternalError(response);
    expect(seen).toEqual([
      { command: 'eraseCustomer', appended: [expect.objectContaining({ eventType: 'CustomerErased' })] },
    ]);
    expect(await customerRow(customer.id)).toEqual(rowBefore);
    expect(rowBefore).toMatchObject({ erased: false, email: customer.email });
  });
});
