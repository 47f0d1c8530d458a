import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_CHANNEL } from '../../src/outbox/append.ts';
import { createOrder } from '../../src/write/order/handle.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { until } from '../support/projections.ts';
import { adminContext, givenCatalogue } from '../support/workload.ts';

let t: TestApp;
let listener: pg.Client;
let received = 0;

beforeAll(async () => {
  t = await createTestApp();
  listener = new pg.Client({ connectionString: t.databaseUrl });
  await listener.connect();
  listener.on('notification', (m) => {
    if (m.channel === OUTBOX_CHANNEL) received += 1;
  });
  await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
});
afterAll(async () => {
  await listener.end();
  await t.close();
});

describe('after-commit notifications', () => {
  it('wake other processes with a few coalesced NOTIFYs, not one per command', async () => {
    const catalogue = await givenCatalogue(t.app, 2, 2);
    await new Promise((r) => setTimeout(r, 100));
    received = 0;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        createOrder(adminContext(t.app), {
          customerId: catalogue.customerIds[i % 2]!,
          items: [{ productId: catalogue.productIds[0]!, quantity: 1 }],
        }),
      ),
    );
    await until('a notification', async () => received > 0, 5_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(40);
  });
});
