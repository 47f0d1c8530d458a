// A subscriber that stops reading, over SSE and over WebSocket, among subscribers of
// the same shared group that keep reading, in a real API process on Redis with a
// projector: the stalled ones are ended with SLOW_CONSUMER and a resume position, a
// resume from it brings every order's latest state (no gap), the others get every
// change and never end, and the process stays up.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { renameCustomer } from '../../src/write/customer/handle.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { SpawnedProcesses } from '../support/processes.ts';
import { caughtUp, until } from '../support/projections.ts';
import { scrape } from '../support/prometheus.ts';
import { type Received, subscribeSse, subscribeWs } from '../support/server.ts';
import { adminContext, type Catalogue, givenCatalogue } from '../support/workload.ts';

const ORDERS = 120;
const QUEUE_MAX_CHANGES = 40;

// Wide frames (every field of the order and its lines, four times over), so the stalled
// sockets fill within a few renames: a graphql-ws client that does not answer pings is
// dropped after 12 s, and the stall must end in SLOW_CONSUMER well before that.
const ORDER_FIELDS = `id status customerId customerName customerEmail totalCents itemCount lineCount version createdAt updatedAt
      items { lineNo productId sku productName quantity unitPriceCents }`;
const ORDER_LIST = `subscription Live($after: String) {
  orderListChanged(after: $after) {
    kind position
    order { ${ORDER_FIELDS} }
    a: order { ${ORDER_FIELDS} }
    b: order { ${ORDER_FIELDS} }
    c: order { ${ORDER_FIELDS} }
  }
}`;

interface Change {
  kind: string;
  position: string;
  order: { id: string; customerName: string };
}

interface GraphQLPayload {
  data?: { orderListChanged: Change } | null;
  errors?: { message: string; extensions: { code: string; resumeAfter: string | null } }[];
}

/** An SSE subscriber that reads nothing until `read` is called, then everything to the end. */
function stalledSse(url: string, token: string) {
  const payloads: GraphQLPayload[] = [];
  let completed = false;
  let text = '';
  const opened = new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    });
    req.on('response', (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    req.end(JSON.stringify({ query: ORDER_LIST }));
  });
  return {
    payloads,
    isCompleted: () => completed,
    async read(): Promise<void> {
      const res = await opened;
      res.on('data', (chunk: Buffer) => {
        text += String(chunk);
        let at = text.indexOf('\n\n');
        while (at >= 0) {
          const frame = text.slice(0, at);
          text = text.slice(at + 2);
          if (frame.startsWith('event: complete')) completed = true;
          const data = /^event: next\ndata: (.*)$/s.exec(frame)?.[1];
          if (data) payloads.push(JSON.parse(data) as GraphQLPayload);
          at = text.indexOf('\n\n');
        }
      });
      res.resume();
      await new Promise<void>((resolve) => {
        res.on('end', resolve);
        res.on('close', resolve);
      });
    },
  };
}

/** A graphql-ws subscriber whose socket is paused once subscribed, until `read`. */
async function stalledWs(url: string, token: string) {
  const payloads: GraphQLPayload[] = [];
  let completed = false;
  const ws = new WebSocket(url.replace('http', 'ws'), 'graphql-transport-ws');
  const acked = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type: string; id?: string; payload?: GraphQLPayload };
      if (message.type === 'connection_ack') resolve();
      if (message.type === 'next' && message.payload) payloads.push(message.payload);
      if (message.type === 'complete') completed = true;
    });
  });
  await new Promise<void>((resolve) => ws.once('open', () => resolve()));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } }));
  await acked;
  ws.send(JSON.stringify({ id: 'stalled', type: 'subscribe', payload: { query: ORDER_LIST } }));
  return {
    payloads,
    isCompleted: () => completed,
    pause: () => ws.pause(),
    read: () => ws.resume(),
    close: () => ws.close(),
  };
}

/** The latest state of each order seen in a list of changes (they come in position order per order). */
function latestNames(changes: Change[]): Map<string, string> {
  return new Map(changes.map((c) => [c.order.id, c.order.customerName]));
}

let t: TestApp;
let catalogue: Catalogue;
const processes = new SpawnedProcesses();

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 1, 2);
  for (let i = 0; i < ORDERS; i++) {
    await createOrder(adminContext(t.app), {
      customerId: catalogue.customerIds[0]!,
      items: [{ productId: catalogue.productIds[0]!, quantity: 1 + (i % 3) }],
    });
  }
});
afterAll(async () => {
  processes.killAll();
  await t.close();
});

describe('slow consumers', () => {
  it('end only the stalled SSE and WebSocket subscribers, with a resume position that loses nothing', async () => {
    const redis = { REDIS_URL: inject('redisUrl'), LOG_LEVEL: 'info' };
    const [api, projector] = await Promise.all([
      processes.api({ ...t.databaseEnv, ...redis, LIVE_QUEUE_MAX_CHANGES: String(QUEUE_MAX_CHANGES) }),
      processes.projector(t.databaseEnv, redis),
    ]);
    // The orders' creations are applied before anyone subscribes: what the subscribers
    // get is the renames' changes only.
    await caughtUp(t.pools);
    const base = `http://127.0.0.1:${api.port}`;
    const url = `${base}/graphql`;
    // Everyone in one shared group: same document, same token, no variables.
    const healthy: Received<Change>[] = [
      subscribeSse<Change>(url, t.adminToken, ORDER_LIST),
      subscribeWs<Change>(url, t.adminToken, ORDER_LIST),
    ];
    const sse = stalledSse(url, t.adminToken);
    const ws = await stalledWs(url, t.adminToken);
    ws.pause();
    await until('four subscribers', async () => {
      const metrics = await scrape(base);
      const open = (transport: string) => metrics.value('parallax_subscriptions_active', { transport }) ?? 0;
      return open('sse') + open('ws') === 4;
    });
    expect((await scrape(base)).value('parallax_live_groups'), 'the four share one group').toBe(1);

    // Each rename changes every order of the customer: a burst of ORDERS changes. The
    // next waits until the healthy subscribers have it (the projector would otherwise
    // fold several renames into one batch, one change per order).
    let renames = 0;
    const rename = async () => {
      renames += 1;
      await renameCustomer(adminContext(t.app), { customerId: catalogue.customerIds[0]!, name: `Name ${renames}` });
      await until(`the healthy subscribers to get rename ${renames}`, async () =>
        healthy.every((h) => h.items.length >= renames * ORDERS),
      );
    };
    const slow = async () => {
      const metrics = await scrape(base);
      return ['sse', 'ws'].every(
        (transport) => (metrics.value('parallax_live_slow_consumers_total', { transport }) ?? 0) >= 1,
      );
    };
    while (!(await slow())) {
      expect(renames, 'the stalled subscribers were never ended').toBeLessThan(100);
      await rename();
    }
    // A few more after the stalled ones were ended: the healthy ones go on.
    console.log(`stalled subscribers ended with SLOW_CONSUMER after ${renames} renames of ${ORDERS} orders`);
    for (let i = 0; i < 3; i++) await rename();
    const finalName = `Name ${renames}`;

    // The healthy ones: every change of every rename, no error, still open.
    for (const h of healthy) {
      expect(h.errors).toEqual([]);
      expect(h.completed).toBe(false);
      expect(h.items.length).toBe(renames * ORDERS);
      const names = latestNames(h.items);
      expect(names.size).toBe(ORDERS);
      expect([...names.values()].every((n) => n === finalName)).toBe(true);
    }

    // The stalled ones read what was sent to them: changes, then SLOW_CONSUMER, then complete.
    ws.read();
    await sse.read();
    await until('the WebSocket subscriber to be completed', async () => ws.isCompleted());
    expect(sse.isCompleted()).toBe(true);
    for (const stalled of [sse, ws]) {
      const last = stalled.payloads.at(-1)!;
      expect(last.errors?.[0]?.extensions.code).toBe('SLOW_CONSUMER');
      const resumeAfter = last.errors![0]!.extensions.resumeAfter;
      expect(resumeAfter).toEqual(expect.any(String));
      const before = stalled.payloads.flatMap((p) => (p.data ? [p.data.orderListChanged] : []));
      expect(before.length).toBeLessThan(renames * ORDERS);
      // Resume: with what it had, every order's latest state, and nothing more to wait for.
      const resumed = subscribeSse<Change>(url, t.adminToken, ORDER_LIST, { after: resumeAfter });
      await until('the resumed subscriber to catch up', async () => {
        const names = latestNames([...before, ...resumed.items]);
        return names.size === ORDERS && [...names.values()].every((n) => n === finalName);
      });
      expect(resumed.errors).toEqual([]);
      resumed.stop();
    }
    ws.close();

    // The process is up and serving.
    expect(api.proc.child.exitCode).toBeNull();
    expect((await fetch(`${base}/health`)).status).toBe(200);
    for (const h of healthy) h.stop();
  }, 300_000);
});
