// The /ops page in Chromium: every projection row, a verify, a screenshot
// (test/.artifacts/ops.png), a position that moves as soon as a command is applied, and
// a parked event in its column.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { ARTIFACTS, launchChromium } from '../support/browser.ts';
import { CreateCustomer } from '../support/documents.ts';
import { givenCustomer, givenOrder, givenProduct } from '../support/fixtures.ts';
import { caughtUp, until } from '../support/projections.ts';
import { listen } from '../support/server.ts';

let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  t = await createTestApp();
  await t.startEngine();
  const customer = await givenCustomer(t);
  const product = await givenProduct(t);
  await givenOrder(t, customer.id, [{ productId: product.id, quantity: 2 }]);
  await caughtUp(t.pools);
  server = await listen(t);
  browser = await launchChromium();
});
afterAll(async () => {
  await page?.close();
  await browser?.close();
  await server?.close();
  await t?.close();
});

const positionCell = (name: string) => page.locator(`tr[data-projection="${name}"] td.position`);

describe('/ops', () => {
  it('is served without secrets, with a restrictive content security policy', async () => {
    const response = await fetch(`${server.base}/ops`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await response.text();
    expect(html).not.toContain(t.adminToken);
    expect(html).not.toContain('__NONCE__');
  });

  it('shows every projection, verifies one, and updates a position within a second of a command', async () => {
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.base}/ops#token=${t.adminToken}`, { waitUntil: 'domcontentloaded' });

    for (const name of PROJECTION_NAMES) {
      await page.locator(`tr[data-projection="${name}"]`).waitFor({ timeout: 30_000 });
    }
    expect(await page.locator('tbody tr').count()).toBe(PROJECTION_NAMES.length);
    await expect
      .poll(() => page.locator(`tr[data-projection="order_search"] td.state`).textContent())
      .toContain('LIVE');
    // The token left the address bar (it stays in this tab's sessionStorage).
    expect(page.url()).not.toContain('token=');

    await page.locator('tr[data-projection="order_list_view"] button[data-action="verify"]').click();
    await expect
      .poll(() => page.locator('#result').textContent(), { timeout: 30_000 })
      .toMatch(/verify order_list_view: [1-9]\d* rows checked, 0 differences/);

    // The page follows positions over SSE: wait until its subscription is open.
    await until('the page to subscribe to projectionPositions', async () => {
      const { values } = await t.app.metrics.subscriptionsActive.get();
      return values.some(
        (v) => v.labels.field === 'projectionPositions' && v.labels.transport === 'sse' && v.value > 0,
      );
    });
    await expect.poll(() => page.locator('#chart polyline').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.screenshot({ path: join(ARTIFACTS, 'ops.png'), fullPage: true });

    const res = await t.gql(CreateCustomer, { input: { name: 'Ops Watcher', email: 'ops.watcher@example.com' } });
    if (res.data?.createCustomer.__typename !== 'CustomerPayload') throw new Error(JSON.stringify(res));
    const position = res.data.createCustomer.position;
    // The one timing requirement: the page shows the new position within a second.
    await expect
      .poll(() => positionCell('order_list_view').textContent(), { timeout: 1_000, interval: 50 })
      .toBe(position);

    // An event parked in a projection shows in its Parked column: here a stored event
    // that cannot be decoded, which every projection parks (the default policy).
    const parked = page.locator('tr[data-projection="order_search"] td.parked');
    expect(await parked.textContent()).toBe('0');
    await t.pool.query(
      `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version, payload, actor)
       VALUES (gen_random_uuid(), 'OrderCreated', 'Order', gen_random_uuid(), 1, 1, '"not an order"'::jsonb, 'test')`,
    );
    await expect.poll(() => parked.textContent(), { timeout: 30_000 }).toBe('1 (1)');
    expect(await parked.getAttribute('class')).toContain('warn');
    expect(await page.locator('tr[data-projection="order_search"] td.unaccounted').textContent()).toMatch(/^(—|0)$/);
    expect(pageErrors).toEqual([]);
  });
});
