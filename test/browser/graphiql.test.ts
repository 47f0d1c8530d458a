import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphQLServer } from '../../src/graphql/yoga.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { ARTIFACTS, launchChromium } from '../support/browser.ts';
import { givenProduct } from '../support/fixtures.ts';
import { listen } from '../support/server.ts';

let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
let browser: Browser;

beforeAll(async () => {
  t = await createTestApp();
  await givenProduct(t, { sku: 'GRAPHIQL-SKU-1', name: 'Seen in GraphiQL' });
  server = await listen(t, createGraphQLServer(t.app, { graphiqlToken: t.adminToken }));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await t?.close();
});

describe('GraphiQL', () => {
  it('opens with a working token, runs the default query and shows the result', async () => {
    const page = await browser.newPage();
    // The page runs under a strict content security policy: nothing it needs may be blocked.
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(server.url, { waitUntil: 'domcontentloaded' });
    const run = page.locator('.graphiql-execute-button');
    await run.waitFor({ timeout: 30_000 });
    await run.click();
    const result = page.locator('.graphiql-response');
    await expect.poll(async () => result.innerText(), { timeout: 30_000 }).toContain('GRAPHIQL-SKU-1');
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql.png') });
    expect(await result.innerText()).not.toContain('UNAUTHENTICATED');
    expect(violations).toEqual([]);
    await page.close();
  });
});
