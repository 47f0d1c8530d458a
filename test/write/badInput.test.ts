import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { changesNothing } from '../support/db.ts';
import {
  AddOrderItem,
  CancelOrder,
  CreateCustomer,
  CreateOrder,
  CreateProduct,
  EraseCustomer,
  RenameCustomer,
  UpdateOrderStatus,
} from '../support/documents.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';
import { type GraphQLBody, listen, postAsAdmin, type TestServer } from '../support/server.ts';

type Status = 'PENDING' | 'CONFIRMED' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';
const STATUSES: Status[] = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'];
/** The status machine as the design states it. */
const ALLOWED: Record<Status, Status[]> = {
  PENDING: ['CONFIRMED', 'CANCELLED'],
  CONFIRMED: ['SHIPPED', 'CANCELLED'],
  SHIPPED: ['DELIVERED'],
  DELIVERED: [],
  CANCELLED: [],
};

/** What every mutation result has in common, for tables of cases over different mutations. */
interface AnyResult {
  __typename: string;
  entity?: string;
  id?: string;
  issues?: { path: string[] }[];
  from?: string;
  to?: string;
  allowed?: string[];
}

let t: TestApp;
let customer: Awaited<ReturnType<typeof givenCustomer>>;
let product: Awaited<ReturnType<typeof givenProduct>>;
let pendingOrderId: string;

beforeAll(async () => {
  t = await createTestApp();
  customer = await givenCustomer(t);
  product = await givenProduct(t, { priceCents: 100 });
  pendingOrderId = (await givenOrder(t, customer.id, [{ productId: product.id, quantity: 1 }])).order.id;
});
afterAll(async () => t.close());

function resultOf(response: { data?: object | null }): AnyResult {
  const result = Object.values(response.data ?? {})[0] as AnyResult | undefined;
  if (!result) throw new Error(`no mutation result: ${JSON.stringify(response)}`);
  return result;
}

const auth = () => ({ authorization: `Bearer ${t.adminToken}` });

describe('a request body that is not JSON', () => {
  it('is answered with HTTP 400 and a GraphQL error body, and changes nothing', async () => {
    const res = await changesNothing(t.pool, () =>
      t.request('{"query": "mutation { createCustomer(input: { name: \\"Eve\\"', auth()),
    );
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([expect.objectContaining({ message: expect.any(String) })]);
    expect(res.json.data ?? null).toBeNull();
  });
});

describe('a document that is not valid GraphQL', () => {
  it('is answered with HTTP 400 and a GraphQL error body, and changes nothing', async () => {
    const res = await changesNothing(t.pool, () =>
      t.request(
        { query: 'mutation { createCustomer(input: { name: "Eve", email: "eve@example.com" }) { __typename }' },
        auth(),
      ),
    );
    expect(res.status).toBe(400);
    expect(res.json.errors).toEqual([expect.objectContaining({ message: expect.stringMatching(/^Syntax Error/) })]);
    expect(res.json.data ?? null).toBeNull();
  });

  it('refuses a fractional quantity before any command runs (GraphQL Int), and changes nothing', async () => {
    const res = await changesNothing(t.pool, () =>
      t.gql(CreateOrder, { input: { customerId: customer.id, items: [{ productId: product.id, quantity: 1.5 }] } }),
    );
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0]?.message).toMatch(/Int/);
  });
});

describe('an unknown id', () => {
  const ids = [
    { kind: 'a random UUID', id: randomUUID() },
    { kind: 'a string that is no UUID', id: 'order-42; DROP TABLE orders' },
  ];
  const commands: { command: string; field: string; entity: string; run: (id: string) => Promise<AnyResult> }[] = [
    {
      command: 'renameCustomer',
      field: 'customerId',
      entity: 'Customer',
      run: async (id) => resultOf(await t.gql(RenameCustomer, { input: { customerId: id, name: 'Nobody' } })),
    },
    {
      command: 'eraseCustomer',
      field: 'customerId',
      entity: 'Customer',
      run: async (id) => resultOf(await t.gql(EraseCustomer, { input: { customerId: id } })),
    },
    {
      command: 'createOrder',
      field: 'customerId',
      entity: 'Customer',
      run: async (id) =>
        resultOf(
          await t.gql(CreateOrder, { input: { customerId: id, items: [{ productId: product.id, quantity: 1 }] } }),
        ),
    },
    {
      command: 'createOrder',
      field: 'items.productId',
      entity: 'Product',
      run: async (id) =>
        resultOf(
          await t.gql(CreateOrder, { input: { customerId: customer.id, items: [{ productId: id, quantity: 1 }] } }),
        ),
    },
    {
      command: 'addOrderItem',
      field: 'orderId',
      entity: 'Order',
      run: async (id) =>
        resultOf(await t.gql(AddOrderItem, { input: { orderId: id, productId: product.id, quantity: 1 } })),
    },
    {
      command: 'addOrderItem',
      field: 'productId',
      entity: 'Product',
      run: async (id) =>
        resultOf(await t.gql(AddOrderItem, { input: { orderId: pendingOrderId, productId: id, quantity: 1 } })),
    },
    {
      command: 'updateOrderStatus',
      field: 'orderId',
      entity: 'Order',
      run: async (id) => resultOf(await t.gql(UpdateOrderStatus, { input: { orderId: id, status: 'CONFIRMED' } })),
    },
    {
      command: 'cancelOrder',
      field: 'orderId',
      entity: 'Order',
      run: async (id) => resultOf(await t.gql(CancelOrder, { input: { orderId: id } })),
    },
  ];
  const cases = commands.flatMap((c) => ids.map((i) => ({ ...c, ...i })));

  for (const { command, field, entity, kind, id, run } of cases) {
    it(`${command} with ${kind} as ${field} answers NotFoundError for the ${entity} and writes nothing`, async () => {
      const result = await changesNothing(t.pool, () => run(id));
      expect(result).toMatchObject({ __typename: 'NotFoundError', entity, id });
    });
  }
});

describe('input that breaks a validation rule', () => {
  const long = (n: number) => 'n'.repeat(n);
  const email = () => `v-${randomUUID()}@example.com`;
  const lines = (n: number) => Array.from({ length: n }, () => ({ productId: product.id, quantity: 1 }));
  const cases: { rule: string; path: string[]; run: () => Promise<AnyResult> }[] = [
    {
      rule: 'createCustomer with an empty name',
      path: ['input', 'name'],
      run: async () => resultOf(await t.gql(CreateCustomer, { input: { name: '', email: email() } })),
    },
    {
      rule: 'createCustomer with a blank name',
      path: ['input', 'name'],
      run: async () => resultOf(await t.gql(CreateCustomer, { input: { name: '   ', email: email() } })),
    },
    {
      rule: 'createCustomer with a 201-character name',
      path: ['input', 'name'],
      run: async () => resultOf(await t.gql(CreateCustomer, { input: { name: long(201), email: email() } })),
    },
    ...['not-an-email', 'ada@example', 'ada lovelace@example.com', '@example.com', ''].map((bad) => ({
      rule: `createCustomer with the email "${bad}"`,
      path: ['input', 'email'],
      run: async () => resultOf(await t.gql(CreateCustomer, { input: { name: 'Ada', email: bad } })),
    })),
    {
      rule: 'renameCustomer to an empty name',
      path: ['input', 'name'],
      run: async () => resultOf(await t.gql(RenameCustomer, { input: { customerId: customer.id, name: '' } })),
    },
    {
      rule: 'renameCustomer to a 201-character name',
      path: ['input', 'name'],
      run: async () => resultOf(await t.gql(RenameCustomer, { input: { customerId: customer.id, name: long(201) } })),
    },
    {
      rule: 'createProduct with an empty name',
      path: ['input', 'name'],
      run: async () => resultOf(await t.gql(CreateProduct, { input: { sku: 'EMPTY-NAME', name: '', priceCents: 1 } })),
    },
    {
      rule: 'createProduct with a 201-character name',
      path: ['input', 'name'],
      run: async () =>
        resultOf(await t.gql(CreateProduct, { input: { sku: 'LONG-NAME', name: long(201), priceCents: 1 } })),
    },
    ...['', 'has space', '-leading-dash', 'semi;colon', 'ümlaut', 'S'.repeat(65)].map((sku) => ({
      rule: `createProduct with the sku "${sku.length > 20 ? `${sku.slice(0, 3)}… (${sku.length} characters)` : sku}"`,
      path: ['input', 'sku'],
      run: async () => resultOf(await t.gql(CreateProduct, { input: { sku, name: 'Bad SKU', priceCents: 1 } })),
    })),
    {
      rule: 'createProduct with a SKU already in use',
      path: ['input', 'sku'],
      run: async () =>
        resultOf(await t.gql(CreateProduct, { input: { sku: product.sku, name: 'Duplicate', priceCents: 1 } })),
    },
    {
      rule: 'createProduct with a negative price',
      path: ['input', 'priceCents'],
      run: async () =>
        resultOf(await t.gql(CreateProduct, { input: { sku: 'NEGATIVE', name: 'Negative', priceCents: -1 } })),
    },
    ...[0, 1001].map((quantity) => ({
      rule: `createOrder with quantity ${quantity} on its second line`,
      path: ['input', 'items', '1', 'quantity'],
      run: async () =>
        resultOf(
          await t.gql(CreateOrder, {
            input: {
              customerId: customer.id,
              items: [
                { productId: product.id, quantity: 1 },
                { productId: product.id, quantity },
              ],
            },
          }),
        ),
    })),
    ...[0, 1001].map((quantity) => ({
      rule: `addOrderItem with quantity ${quantity}`,
      path: ['input', 'quantity'],
      run: async () =>
        resultOf(await t.gql(AddOrderItem, { input: { orderId: pendingOrderId, productId: product.id, quantity } })),
    })),
    ...[0, 101].map((n) => ({
      rule: `createOrder with ${n} lines`,
      path: ['input', 'items'],
      run: async () => resultOf(await t.gql(CreateOrder, { input: { customerId: customer.id, items: lines(n) } })),
    })),
    ...[
      { what: 'a 201-character', key: long(201) },
      { what: 'an empty', key: '' },
    ].map(({ what, key }) => ({
      rule: `createOrder with ${what} idempotency key`,
      path: ['input', 'idempotencyKey'],
      run: async () =>
        resultOf(
          await t.gql(CreateOrder, { input: { customerId: customer.id, items: lines(1), idempotencyKey: key } }),
        ),
    })),
  ];

  for (const { rule, path, run } of cases) {
    it(`${rule} is a ValidationError at ${path.join('.')} and writes nothing`, async () => {
      const result = await changesNothing(t.pool, run);
      expect(result.__typename).toBe('ValidationError');
      expect(result.issues?.map((i) => i.path)).toEqual([path]);
    });
  }

  it('addOrderItem on an order that already has 100 lines is a ValidationError and writes nothing', async () => {
    const full = await givenOrder(t, customer.id, lines(100));
    const result = await changesNothing(t.pool, async () =>
      resultOf(await t.gql(AddOrderItem, { input: { orderId: full.order.id, productId: product.id, quantity: 1 } })),
    );
    expect(result.__typename).toBe('ValidationError');
    expect(result.issues?.map((i) => i.path)).toEqual([['input', 'orderId']]);
  });

  it('accepts the values at the edges of each rule', async () => {
    const named = resultOf(await t.gql(CreateCustomer, { input: { name: long(200), email: email() } }));
    expect(named.__typename).toBe('CustomerPayload');
    const free = resultOf(
      await t.gql(CreateProduct, { input: { sku: 'S'.repeat(64), name: long(200), priceCents: 0 } }),
    );
    expect(free.__typename).toBe('ProductPayload');
    const order = resultOf(
      await t.gql(CreateOrder, {
        input: {
          customerId: customer.id,
          items: [{ productId: product.id, quantity: 1000 }, ...lines(99)],
          idempotencyKey: long(200),
        },
      }),
    );
    expect(order.__typename).toBe('OrderPayload');
  });
});

describe('the order status machine', () => {
  const orders = {} as Record<Status, { id: string; version: number }>;

  beforeAll(async () => {
    const path: Record<Status, Status[]> = {
      PENDING: [],
      CONFIRMED: ['CONFIRMED'],
      SHIPPED: ['CONFIRMED', 'SHIPPED'],
      DELIVERED: ['CONFIRMED', 'SHIPPED', 'DELIVERED'],
      CANCELLED: ['CANCELLED'],
    };
    for (const status of STATUSES) {
      const order = await givenOrder(t, customer.id, [{ productId: product.id, quantity: 1 }]);
      let version = 1;
      for (const step of path[status]) {
        const res = await t.gql(UpdateOrderStatus, { input: { orderId: order.order.id, status: step } });
        expect(res.data?.updateOrderStatus.__typename, JSON.stringify(res)).toBe('OrderPayload');
        version += 1;
      }
      orders[status] = { id: order.order.id, version };
    }
  });

  async function expectOrderUnchanged(status: Status): Promise<void> {
    const { rows } = await t.pool.query('SELECT status, version FROM orders WHERE id = $1', [orders[status].id]);
    expect(rows).toEqual([{ status, version: orders[status].version }]);
  }

  const disallowed = STATUSES.flatMap((from) =>
    STATUSES.filter((to) => !ALLOWED[from].includes(to)).map((to) => ({ from, to, allowed: ALLOWED[from] })),
  );

  for (const { from, to, allowed } of disallowed) {
    const listed = allowed.length ? allowed.join(' and ') : 'nothing';
    it(`refuses updateOrderStatus from ${from} to ${to} with InvalidTransition allowing ${listed}`, async () => {
      const result = await changesNothing(t.pool, async () =>
        resultOf(await t.gql(UpdateOrderStatus, { input: { orderId: orders[from].id, status: to } })),
      );
      expect(result.__typename).toBe('InvalidTransition');
      expect({ from: result.from, to: result.to, allowed: [...(result.allowed ?? [])].sort() }).toEqual({
        from,
        to,
        allowed: [...allowed].sort(),
      });
      await expectOrderUnchanged(from);
    });
  }

  for (const from of STATUSES.filter((s) => !ALLOWED[s].includes('CANCELLED'))) {
    it(`refuses cancelOrder on a ${from} order with InvalidTransition`, async () => {
      const result = await changesNothing(t.pool, async () =>
        resultOf(await t.gql(CancelOrder, { input: { orderId: orders[from].id } })),
      );
      expect(result).toMatchObject({ __typename: 'InvalidTransition', from, to: 'CANCELLED' });
      expect([...(result.allowed ?? [])].sort()).toEqual([...ALLOWED[from]].sort());
      await expectOrderUnchanged(from);
    });
  }

  for (const from of STATUSES.filter((s) => s !== 'PENDING')) {
    it(`refuses addOrderItem on a ${from} order with InvalidTransition`, async () => {
      const result = await changesNothing(t.pool, async () =>
        resultOf(
          await t.gql(AddOrderItem, { input: { orderId: orders[from].id, productId: product.id, quantity: 1 } }),
        ),
      );
      expect(result).toMatchObject({ __typename: 'InvalidTransition', from });
      expect([...(result.allowed ?? [])].sort()).toEqual([...ALLOWED[from]].sort());
      await expectOrderUnchanged(from);
    });
  }
});

describe('an oversized request', () => {
  const LIMIT = 100_000;
  const mutation = 'mutation Big($input: CreateCustomerInput!) { createCustomer(input: $input) { __typename } }';
  let server: TestServer;
  beforeAll(async () => {
    server = await listen(t);
  });
  afterAll(async () => server.close());

  const post = (body: GraphQLBody) =>
    postAsAdmin(server.url, t.adminToken, body, { accept: 'application/graphql-response+json' });

  async function expectTooLarge(response: Response): Promise<void> {
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'REQUEST_TOO_LARGE' } }],
    });
  }

  it('refuses a document over 100 KB with HTTP 413 and a GraphQL error body, and writes nothing', async () => {
    const query = `mutation { createCustomer(input: { name: "Big", email: "big@example.com" }) { __typename } }\n# ${'x'.repeat(LIMIT)}`;
    await changesNothing(t.pool, async () => expectTooLarge(await post(JSON.stringify({ query }))));
  });

  it('refuses variables over 100 KB with HTTP 413 and a GraphQL error body, and writes nothing', async () => {
    const body = JSON.stringify({
      query: mutation,
      variables: { input: { name: 'Padded', email: 'padded@example.com' }, padding: 'x'.repeat(LIMIT) },
    });
    await changesNothing(t.pool, async () => expectTooLarge(await post(body)));
  });

  it('cuts off a body streamed without a Content-Length at 100 KB with HTTP 413, and writes nothing', async () => {
    const bytes = new TextEncoder().encode(
      JSON.stringify({
        query: mutation,
        variables: { input: { name: 'Streamed', email: 'streamed@example.com' }, padding: 'x'.repeat(2 * LIMIT) },
      }),
    );
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 16_384) controller.enqueue(bytes.slice(i, i + 16_384));
        controller.close();
      },
    });
    await changesNothing(t.pool, async () => expectTooLarge(await post(stream)));
  });

  it('serves the same mutation when the request stays under the limit', async () => {
    const body = JSON.stringify({
      query: mutation,
      variables: { input: { name: 'Padded', email: 'padded@example.com' }, padding: 'x'.repeat(LIMIT - 2_000) },
    });
    const response = await post(body);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { createCustomer: { __typename: 'CustomerPayload' } } });
  });
});
