// The delivery engine's limits and bounds: subscriptions per connection and per subject
// answer typed errors; WebSocket operations are checked like HTTP ones; a resume replays
// page by page without losing rows that share a position; a customer's stream keeps
// nothing of other customers' traffic.
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHANNELS, type ChangeMessage, type PositionMessage } from '../../src/bus/bus.ts';
import { liveStats } from '../../src/graphql/delivery.ts';
import { decodePosition, encodePosition } from '../../src/outbox/position.ts';
import { listStreamStats, REPLAY_PAGE_ROWS } from '../../src/readModels/orderListView/live.ts';
import { renameCustomer } from '../../src/write/customer/handle.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, until } from '../support/projections.ts';
import { listen, postAsAdmin, type Received, subscribeSse, type TestServer } from '../support/server.ts';
import { adminContext, type Catalogue, givenCatalogue } from '../support/workload.ts';

const ORDER_LIST = `subscription Changes($after: String) {
  orderListChanged(after: $after) { kind position order { id customerId customerName } }
}`;

interface Change {
  kind: 'UPSERT' | 'REMOVE';
  position: string;
  order: { id: string; customerId: string; customerName: string };
}

let t: TestApp;
let catalogue: Catalogue;
let server: TestServer;

beforeAll(async () => {
  t = await createTestApp({
    env: { LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION: '3', LIVE_MAX_SUBSCRIPTIONS_PER_SUBJECT: '4' },
  });
  catalogue = await givenCatalogue(t.app, 1, 3);
  await t.startEngine({ pollMs: 200 });
  server = await listen(t);
});
afterAll(async () => {
  await server.close();
  await t.close();
});

/** One graphql-ws connection; each subscribe's outcome: 'open' while running, or its errors. */
function wsConnection(token: string) {
  const client = createWsClient({
    url: server.url.replace('http', 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  return {
    subscribe(query: string, variables: Record<string, unknown> = {}) {
      const outcome = { errors: [] as { message: string; extensions?: { code?: string } }[], completed: false };
      const stop = client.subscribe(
        { query, variables },
        {
          next: (value) => {
            if (value.errors) outcome.errors.push(...(value.errors as never[]));
          },
          error: (error) => outcome.errors.push(...(Array.isArray(error) ? error : [error])),
          complete: () => {
            outcome.completed = true;
          },
        },
      );
      return { outcome, stop };
    },
    dispose: () => client.dispose(),
  };
}

const codes = (errors: unknown[]) => errors.map((e) => (e as { extensions?: { code?: string } }).extensions?.code);

describe('subscription limits', () => {
  it('refuses a subscription over LIVE_MAX_SUBSCRIPTIONS_PER_CONNECTION with TOO_MANY_SUBSCRIPTIONS, and admits one again when another ends', async () => {
    const connection = wsConnection(t.adminToken);
    const before = liveStats().members;
    const subs = [0, 1, 2].map(() => connection.subscribe(ORDER_LIST));
    await until('three subscriptions', async () => liveStats().members - before === 3);
    const fourth = connection.subscribe(ORDER_LIST);
    await until('the fourth to be refused', async () => fourth.outcome.errors.length > 0);
    expect(codes(fourth.outcome.errors)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    expect(liveStats().members - before).toBe(3);
    for (const s of subs) expect(s.outcome.errors).toEqual([]);
    // Another connection of the same subject is not affected by this one's count.
    const other = wsConnection(t.adminToken);
    const elsewhere = other.subscribe(ORDER_LIST);
    await until('the other connection to subscribe', async () => liveStats().members - before === 4);
    subs[0]!.stop();
    await until('one to end', async () => liveStats().members - before === 3);
    const again = connection.subscribe(ORDER_LIST);
    await until('a new one on the first connection', async () => liveStats().members - before === 4);
    expect(again.outcome.errors).toEqual([]);
    for (const s of [...subs, again, elsewhere]) s.stop();
    await connection.dispose();
    await other.dispose();
  });

  it('refuses a subscription over LIVE_MAX_SUBSCRIPTIONS_PER_SUBJECT with TOO_MANY_SUBSCRIPTIONS, whatever the transport', async () => {
    const [a, b] = [catalogue.customerIds[0]!, catalogue.customerIds[1]!];
    const [tokenA, tokenB] = [await t.customerToken(a), await t.customerToken(b)];
    const before = liveStats().members;
    const held: Received<Change>[] = [0, 1, 2, 3].map(() => subscribeSse<Change>(server.url, tokenA, ORDER_LIST));
    await until('four subscriptions of customer A', async () => liveStats().members - before === 4);
    const fifth = subscribeSse<Change>(server.url, tokenA, ORDER_LIST);
    const overWs = wsConnection(tokenA).subscribe(ORDER_LIST);
    await until('the fifth to be refused', async () => fifth.errors.length > 0 && overWs.outcome.errors.length > 0);
    expect(codes(fifth.errors)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    expect(codes(overWs.outcome.errors)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    // Customer B has its own count.
    const otherSubject = subscribeSse<Change>(server.url, tokenB, ORDER_LIST);
    await until('customer B to subscribe', async () => liveStats().members - before === 5);
    expect(otherSubject.errors).toEqual([]);
    for (const s of [...held, otherSubject]) s.stop();
    overWs.stop();
    await until('every subscription to end', async () => liveStats().members === before);
  });
});

describe('WebSocket operations', () => {
  it('are refused over the document size limit like over HTTP, before anything is subscribed', async () => {
    const big = `${ORDER_LIST}\n# ${'x'.repeat(60_000)}`;
    const overHttp = await postAsAdmin(server.url, t.adminToken, { query: big });
    expect(overHttp.status).toBe(413);
    const httpBody = (await overHttp.json()) as { errors: { extensions: { code: string } }[] };
    expect(codes(httpBody.errors)).toEqual(['DOCUMENT_TOO_LARGE']);

    const before = liveStats().members;
    const connection = wsConnection(t.adminToken);
    const overWs = connection.subscribe(big);
    await until('the WebSocket operation to be refused', async () => overWs.outcome.errors.length > 0);
    expect(codes(overWs.outcome.errors)).toEqual(['DOCUMENT_TOO_LARGE']);
    expect(overWs.outcome.errors[0]!.extensions).not.toHaveProperty('http');
    const nul = connection.subscribe(ORDER_LIST, { after: 'a\u0000b' });
    await until('the NUL variable to be refused', async () => nul.outcome.errors.length > 0);
    expect(codes(nul.outcome.errors)).toEqual(['BAD_USER_INPUT']);
    expect(liveStats().members).toBe(before);
    await connection.dispose();
  });
});

describe('resume replay', () => {
  it(`reads page by page (${REPLAY_PAGE_ROWS} rows each) and loses no row of a position many rows share`, async () => {
    const customerId = catalogue.customerIds[2]!;
    const count = 2 * REPLAY_PAGE_ROWS + 150;
    for (let i = 0; i < count; i++) {
      await createOrder(adminContext(t.app), {
        customerId,
        items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
      });
    }
    await caughtUp(t.pools);
    const { rows } = await t.readPool.query<{ tx_id: string; seq: string }>(
      `SELECT tx_id::text AS tx_id, seq::text AS seq FROM projection_checkpoints WHERE name = 'order_list_view'`,
    );
    const after = encodePosition({ txId: BigInt(rows[0]!.tx_id), seq: BigInt(rows[0]!.seq) });
    // One rename moves every row of the customer to the same position.
    await renameCustomer(adminContext(t.app), { customerId, name: 'Renamed Once' });
    await caughtUp(t.pools);
    const shared = await t.readPool.query<{ n: string }>(
      `SELECT count(DISTINCT (position_tx_id, position_seq))::text AS n FROM order_list_view WHERE customer_id = $1`,
      [customerId],
    );
    expect(shared.rows[0]!.n).toBe('1');

    const resumed = subscribeSse<Change>(server.url, t.adminToken, ORDER_LIST, { after });
    await until('the replay to arrive', async () => resumed.items.length >= count);
    await new Promise((r) => setTimeout(r, 500));
    expect(resumed.errors).toEqual([]);
    expect(resumed.items.length).toBe(count);
    expect(new Set(resumed.items.map((c) => c.order.id)).size).toBe(count);
    expect(resumed.items.every((c) => c.order.customerName === 'Renamed Once' && c.kind === 'UPSERT')).toBe(true);
    resumed.stop();
  });
});

describe("a customer's stream", () => {
  it('keeps nothing of 50,000 changes of other customers', async () => {
    const customerId = catalogue.customerIds[0]!;
    const own = subscribeSse<Change>(server.url, await t.customerToken(customerId), ORDER_LIST);
    await until('the customer to subscribe', async () => liveStats().members > 0);
    await new Promise((r) => setTimeout(r, 300));
    const remembered = listStreamStats().rememberedOrders;
    // A real row as the template of the published ones.
    const { rows: template } = await t.readPool.query<Record<string, unknown>>(
      `SELECT * FROM order_list_view WHERE customer_id = $1 LIMIT 1`,
      [catalogue.customerIds[2]],
    );
    const { rows: checkpoint } = await t.readPool.query<{ tx_id: string; seq: string }>(
      `SELECT tx_id::text AS tx_id, seq::text AS seq FROM projection_checkpoints WHERE name = 'order_list_view'`,
    );
    let previous = { txId: BigInt(checkpoint[0]!.tx_id), seq: BigInt(checkpoint[0]!.seq) };
    const publish = async (rowsOf: (position: { txId: bigint; seq: bigint }) => Record<string, unknown>[]) => {
      const position = { txId: previous.txId, seq: previous.seq + 1n };
      const token = encodePosition(position);
      for (const row of rowsOf(position)) {
        const change: ChangeMessage = {
          projection: 'order_list_view',
          position: token,
          key: String(row.order_id),
          row,
        };
        await t.app.bus.publish(CHANNELS.readModelChanges, change);
      }
      const done: PositionMessage = {
        projection: 'order_list_view',
        position: token,
        txId: position.txId.toString(),
        seq: position.seq.toString(),
        after: encodePosition(previous),
      };
      await t.app.bus.publish(CHANNELS.positions, done);
      previous = position;
    };
    const row = (position: { txId: bigint; seq: bigint }, orderId: string, customer: string) => ({
      ...template[0],
      order_id: orderId,
      customer_id: customer,
      position_tx_id: position.txId.toString(),
      position_seq: position.seq.toString(),
    });
    const foreign = catalogue.customerIds[1]!;
    for (let batch = 0; batch < 500; batch++) {
      await publish((p) =>
        Array.from({ length: 100 }, (_, i) =>
          row(p, `00000000-0000-4000-8000-${String(batch * 100 + i).padStart(12, '0')}`, foreign),
        ),
      );
    }
    expect(listStreamStats().rememberedOrders).toBe(remembered);
    expect(own.items).toEqual([]);
    // Its own change still arrives: the stream was listening all along.
    const ownOrder = '00000000-0000-4000-8000-999999999999';
    await publish((p) => [row(p, ownOrder, customerId)]);
    await until('the customer to get its own change', async () => own.items.length === 1);
    expect(own.items[0]!.order.id).toBe(ownOrder);
    expect(listStreamStats().rememberedOrders).toBe(remembered + 1);
    expect(decodePosition(own.items[0]!.position).seq).toBe(previous.seq);
    own.stop();
  });
});
