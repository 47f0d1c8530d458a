// The statements one command transaction sends. Each statement is a round trip to
// PostgreSQL, and the write path's throughput follows their number. Every command runs
// in a Prisma interactive transaction, whose BEGIN and COMMIT are statements of their
// own; createOrder sends three in between: the locks + idempotency lookup with its
// facts (customer and products) read beside it, one write-model insert, one outbox
// (+ idempotency record) insert.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransactionClient } from '../../src/db/prisma.ts';
import { ValidationError } from '../../src/errors.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type GraphQLResponse, type TestApp } from '../support/app.ts';
import { changesNothing, writeCounts } from '../support/db.ts';
import { CreateOrder } from '../support/documents.ts';
import { expectMaskedInternalError } from '../support/failure.ts';
import { givenCustomer, givenProduct } from '../support/fixtures.ts';
import { adminContext } from '../support/workload.ts';

let t: TestApp;
/** Every statement sent on a pool connection, by connection, while `recording` is on. */
const sent = new Map<pg.PoolClient, string[]>();
let recording = false;

beforeAll(async () => {
  t = await createTestApp();
  const wrapped = new WeakSet<pg.PoolClient>();
  t.pool.on('acquire', (client) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      if (recording) {
        const config = typeof args[0] === 'string' ? { text: args[0] } : (args[0] as { text: string });
        const text = config.text.replace(/\s+/g, ' ').trim();
        sent.set(client, [...(sent.get(client) ?? []), text]);
      }
      return query(...args);
    };
  });
});
afterAll(async () => t.close());

/** The statements of the one transaction `run` sends, BEGIN to COMMIT or ROLLBACK. */
async function transactionOf(run: () => Promise<unknown>): Promise<string[]> {
  sent.clear();
  recording = true;
  try {
    await run();
  } finally {
    recording = false;
  }
  const transactions = [...sent.values()]
    .map((statements) => {
      const end = statements.findLastIndex((sql) => sql === 'COMMIT' || sql === 'ROLLBACK');
      return statements.slice(statements.findIndex(isBegin), end + 1);
    })
    .filter((statements) => statements.length && isBegin(statements[0]!));
  expect(transactions).toHaveLength(1);
  return transactions[0]!;
}

const isBegin = (sql: string) => sql === 'BEGIN';

/** A short, stable name for each statement. */
function kind(sql: string): string {
  if (sql === 'BEGIN' || sql === 'COMMIT' || sql === 'ROLLBACK') return sql;
  if (sql.includes('command_begin(') && sql.includes('FROM customers') && sql.includes('FROM products')) {
    return 'locks + idempotency lookup + customer + products';
  }
  if (sql.includes('command_begin(')) return 'locks + idempotency lookup';
  if (sql.includes('INSERT INTO orders') && sql.includes('INSERT INTO order_items')) return 'order + items';
  if (sql.includes('INSERT INTO outbox') && sql.includes('INSERT INTO idempotency_records')) {
    return 'outbox + idempotency record';
  }
  if (sql.startsWith('INSERT INTO outbox')) return 'outbox';
  return sql.slice(0, 80);
}

describe('createOrder', () => {
  it('runs as five statements with an idempotency key, none of them SET TRANSACTION or a read-back', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const input = {
      customerId: customer.id,
      items: [
        { productId: product.id, quantity: 1 },
        { productId: (await givenProduct(t)).id, quantity: 2 },
        { productId: (await givenProduct(t)).id, quantity: 3 },
      ],
      idempotencyKey: `rt-${customer.id}`,
    };
    let response: unknown;
    const statements = await transactionOf(async () => {
      response = await t.gql(CreateOrder, { input });
    });
    expect(response).toMatchObject({ data: { createOrder: { __typename: 'OrderPayload' } } });
    expect(statements.map(kind)).toEqual([
      'BEGIN',
      'locks + idempotency lookup + customer + products',
      'order + items',
      'outbox + idempotency record',
      'COMMIT',
    ]);

    // A replay is answered by the lookup: one statement and the commit, nothing written.
    const replay = await transactionOf(() => t.gql(CreateOrder, { input }));
    expect(replay.map(kind)).toEqual(['BEGIN', 'locks + idempotency lookup + customer + products', 'COMMIT']);
  });

  it('runs as five statements without an idempotency key', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const statements = await transactionOf(() =>
      t.gql(CreateOrder, { input: { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }] } }),
    );
    expect(statements.map(kind)).toEqual([
      'BEGIN',
      'locks + idempotency lookup + customer + products',
      'order + items',
      'outbox',
      'COMMIT',
    ]);
  });

  it("answers the payload's order from the row it wrote, reading it back only for its items", async () => {
    const product = await givenProduct(t, { priceCents: 250 });
    const customer = await givenCustomer(t);
    const query = `mutation ($input: CreateOrderInput!) {
      createOrder(input: $input) {
        __typename
        ... on OrderPayload { version order { id customerId status totalCents version createdAt updatedAt } }
      }
    }`;
    const input = { customerId: customer.id, items: [{ productId: product.id, quantity: 3 }] };
    let response: { json: GraphQLResponse<unknown> } | undefined;
    await transactionOf(async () => {
      response = await t.request({ query, variables: { input } }, { authorization: `Bearer ${t.adminToken}` });
    });
    const readBacks = [...sent.values()].flat().filter((sql) => sql.includes('"orders"'));
    expect(readBacks).toEqual([]);
    const payload = (response!.json.data as { createOrder: { order: Record<string, unknown> } }).createOrder;
    const { rows } = await t.pool.query(
      `SELECT id::text AS id, customer_id::text AS "customerId", status::text AS status, total_cents AS "totalCents",
              version, created_at AS "createdAt", updated_at AS "updatedAt"
         FROM orders WHERE id = $1`,
      [payload.order.id],
    );
    expect(payload).toEqual({
      __typename: 'OrderPayload',
      version: 1,
      order: {
        ...rows[0],
        createdAt: rows[0].createdAt.toISOString(),
        updatedAt: rows[0].updatedAt.toISOString(),
      },
    });
    expect(payload.order).toMatchObject({ customerId: customer.id, status: 'PENDING', totalCents: 750 });

    // Its items come from the write model.
    let withItems: unknown;
    await transactionOf(async () => {
      withItems = await t.gql(CreateOrder, { input });
    });
    expect([...sent.values()].flat().filter((sql) => sql.includes('"orders"')).length).toBeGreaterThan(0);
    expect(withItems).toMatchObject({
      data: {
        createOrder: {
          order: { items: [{ lineNo: 1, productId: product.id, quantity: 3, unitPriceCents: 250 }] },
        },
      },
    });
  });

  it('runs inline hooks in its own transaction, in READ COMMITTED with no SET TRANSACTION', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const seen: string[] = [];
    const hook = async (tx: TransactionClient) => {
      const [row] = await tx.$queryRawUnsafe<{ level: string }[]>(
        "SELECT current_setting('transaction_isolation') AS level",
      );
      seen.push(row!.level);
    };
    t.app.hooks.afterAppend = [...(t.app.hooks.afterAppend ?? []), hook];
    let statements: string[] = [];
    try {
      let response: unknown;
      statements = await transactionOf(async () => {
        response = await t.gql(CreateOrder, {
          input: { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }], idempotencyKey: 'hooked' },
        });
      });
      expect(response).toMatchObject({ data: { createOrder: { __typename: 'OrderPayload' } } });
    } finally {
      t.app.hooks.afterAppend = t.app.hooks.afterAppend.filter((h) => h !== hook);
    }
    expect(seen).toEqual(['read committed']);
    expect(statements.map(kind)).toEqual([
      'BEGIN',
      'locks + idempotency lookup + customer + products',
      'order + items',
      'outbox + idempotency record',
      "SELECT current_setting('transaction_isolation') AS level",
      'COMMIT',
    ]);
  });
});

describe('createOrder when its transaction fails', () => {
  /** Makes the outbox refuse this customer's events: at insert, or (deferred) at commit. */
  async function refuseOutboxFor(customerId: string, atCommit: boolean): Promise<() => Promise<void>> {
    const name = `refuse_${customerId.replaceAll('-', '')}`;
    await t.pool.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.payload->>'customerId' = '${customerId}' THEN RAISE EXCEPTION 'refused for the test'; END IF;
        RETURN NEW;
      END $$`);
    await t.pool.query(
      atCommit
        ? `CREATE CONSTRAINT TRIGGER ${name} AFTER INSERT ON outbox DEFERRABLE INITIALLY DEFERRED
             FOR EACH ROW EXECUTE FUNCTION ${name}()`
        : `CREATE TRIGGER ${name} BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION ${name}()`,
    );
    return async () => {
      await t.pool.query(`DROP TRIGGER ${name} ON outbox`);
      await t.pool.query(`DROP FUNCTION ${name}()`);
    };
  }

  for (const atCommit of [false, true]) {
    it(`writes nothing when the ${atCommit ? 'commit' : 'outbox insert'} fails, and the key stays free`, async () => {
      expect(t.app.hooks.afterAppend ?? []).toEqual([]);
      const product = await givenProduct(t);
      const customer = await givenCustomer(t);
      const input = {
        customerId: customer.id,
        items: [{ productId: product.id, quantity: 2 }],
        idempotencyKey: `refused-${atCommit}`,
      };
      const restore = await refuseOutboxFor(customer.id, atCommit);
      const before = await writeCounts(t.pool);
      let statements: string[] = [];
      try {
        let response: GraphQLResponse<unknown> | undefined;
        statements = await transactionOf(async () => {
          response = await t.gql(CreateOrder, { input });
        });
        expectMaskedInternalError(response!, 'refused for the test');
      } finally {
        await restore();
      }
      // A COMMIT that fails ends the transaction (PostgreSQL rolls it back): no ROLLBACK follows.
      expect(statements.map(kind)).toEqual([
        'BEGIN',
        'locks + idempotency lookup + customer + products',
        'order + items',
        'outbox + idempotency record',
        atCommit ? 'COMMIT' : 'ROLLBACK',
      ]);
      expect(await writeCounts(t.pool)).toEqual(before);

      // The connection went back to the pool usable, and the retry places the order.
      const retries = await Promise.all(Array.from({ length: 3 }, () => t.gql(CreateOrder, { input })));
      const orderIds = new Set(
        retries.map((r) => {
          const result = r.data?.createOrder;
          if (result?.__typename !== 'OrderPayload') throw new Error(JSON.stringify(r));
          return result.order.id;
        }),
      );
      expect(orderIds.size).toBe(1);
      expect(await writeCounts(t.pool)).toMatchObject({ orders: before.orders! + 1, outbox: before.outbox! + 1 });
    });
  }
});

describe('idempotency keys', () => {
  const HOSTILE = ["'; DROP TABLE orders; --", "it's", '\\', "\\'", '$1 $2', "E'x'", '😀 ∑ ß', '\n\r\t', '$$ $q$'];

  for (const key of HOSTILE) {
    it(`keeps ${JSON.stringify(key)} as it is: one order, replayed`, async () => {
      const product = await givenProduct(t);
      const customer = await givenCustomer(t);
      const input = { customerId: customer.id, items: [{ productId: product.id, quantity: 1 }], idempotencyKey: key };
      const first = await t.gql(CreateOrder, { input });
      const again = await t.gql(CreateOrder, { input });
      const a = first.data?.createOrder;
      const b = again.data?.createOrder;
      if (a?.__typename !== 'OrderPayload' || b?.__typename !== 'OrderPayload') {
        throw new Error(JSON.stringify([first, again]));
      }
      expect(b.order.id).toBe(a.order.id);
      expect(b.position).toBe(a.position);
      const { rows } = await t.pool.query('SELECT key FROM idempotency_records WHERE key = $1', [
        `${customer.id}:${key}`,
      ]);
      expect(rows).toHaveLength(1);
    });
  }

  it('refuses a key with U+0000 (a BAD_USER_INPUT over GraphQL, a ValidationError from the handler) and writes nothing', async () => {
    const product = await givenProduct(t);
    const customer = await givenCustomer(t);
    const input = {
      customerId: customer.id,
      items: [{ productId: product.id, quantity: 1 }],
      idempotencyKey: 'a\u0000b',
    };
    const { response, direct } = await changesNothing(t.pool, async () => ({
      response: await t.gql(CreateOrder, { input }),
      direct: await Promise.resolve()
        .then(() => createOrder(adminContext(t.app), input))
        .catch((error: unknown) => error),
    }));
    expect(response.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(direct).toBeInstanceOf(ValidationError);
    expect((direct as ValidationError).issues.map((i) => i.path)).toEqual([['input', 'idempotencyKey']]);
  });
});
