// Two API processes on one Redis plus one projector: a write through one API reaches
// subscribers of the other, over graphql-ws and graphql-sse.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { SpawnedProcesses } from '../support/processes.ts';
import { until } from '../support/projections.ts';
import { postAsAdmin, subscribeSse, subscribeWs } from '../support/server.ts';
import { type Catalogue, givenCatalogue } from '../support/workload.ts';

const ORDER_LIST = `subscription { orderListChanged { kind position order { id status } } }`;

let t: TestApp;
let catalogue: Catalogue;
const processes = new SpawnedProcesses();

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 2, 2);
});
afterAll(async () => {
  processes.killAll();
  await t.close();
});

describe('several API processes on one Redis', () => {
  it('deliver a mutation sent to instance A to WebSocket and SSE subscribers of instance B', async () => {
    const env = { ...t.databaseEnv, REDIS_URL: inject('redisUrl'), LOG_LEVEL: 'info' };
    const [{ port: portA }, { port: portB }] = await Promise.all([
      processes.api(env),
      processes.api(env),
      processes.projector(t.databaseEnv, { REDIS_URL: inject('redisUrl'), LOG_LEVEL: 'info' }),
    ]);

    const urlB = `http://127.0.0.1:${portB}/graphql`;
    const ws = subscribeWs<{ order: { id: string } }>(urlB, t.adminToken, ORDER_LIST);
    const sse = subscribeSse<{ order: { id: string } }>(urlB, t.adminToken, ORDER_LIST);
    await new Promise((r) => setTimeout(r, 500));

    const response = await postAsAdmin(`http://127.0.0.1:${portA}/graphql`, t.adminToken, {
      query: `mutation($input: CreateOrderInput!) { createOrder(input: $input) { ... on OrderPayload { order { id } } } }`,
      variables: {
        input: { customerId: catalogue.customerIds[0], items: [{ productId: catalogue.productIds[0], quantity: 1 }] },
      },
    });
    const body = (await response.json()) as { data: { createOrder: { order: { id: string } } } };
    const orderId = body.data.createOrder.order.id;
    await until(
      'both subscribers on B to receive the order',
      async () => ws.items.some((c) => c.order.id === orderId) && sse.items.some((c) => c.order.id === orderId),
    );
    expect(ws.errors).toEqual([]);
    expect(sse.errors).toEqual([]);
    ws.stop();
    sse.stop();
  });
});
