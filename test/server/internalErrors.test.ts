// Driven through the real HTTP server: the request id scope is set there.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { changesNothing } from '../support/db.ts';
import { listen, postAsAdmin, type TestServer } from '../support/server.ts';

let t: TestApp;
let server: TestServer;
beforeAll(async () => {
  t = await createTestApp();
  server = await listen(t);
});
afterAll(async () => {
  await server.close();
  await t.close();
});

const CREATE_CUSTOMER = 'mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { __typename } }';

async function failingRequest(secret: string, headers: Record<string, string> = {}) {
  const previous = t.app.hooks.afterAppend;
  t.app.hooks.afterAppend = [
    async () => {
      throw new Error(secret);
    },
  ];
  try {
    const response = await postAsAdmin(
      server.url,
      t.adminToken,
      {
        query: CREATE_CUSTOMER,
        variables: { input: { name: 'Masked', email: `masked-${randomUUID()}@example.com` } },
      },
      { accept: 'application/graphql-response+json', ...headers },
    );
    return { response, text: await response.text() };
  } finally {
    t.app.hooks.afterAppend = previous;
  }
}

function internalErrorLogs(requestId: string) {
  return t.logs.filter((line) => line.msg === 'internal error' && line.requestId === requestId);
}

describe('an unexpected error', () => {
  it('is masked in the response and logged with the request id', async () => {
    const secret = `connection string postgres://secret-${randomUUID()}`;
    const { response, text } = await changesNothing(t.pool, () => failingRequest(secret));

    expect(text).not.toContain(secret);
    const body = JSON.parse(text) as {
      data?: unknown;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    };
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toHaveLength(1);
    const [error] = body.errors!;
    expect(error!.message).toBe('Unexpected error.');
    expect(error!.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    const requestId = error!.extensions?.requestId;
    expect(requestId).toEqual(expect.any(String));
    expect(response.headers.get('x-request-id')).toBe(requestId);

    const logged = internalErrorLogs(requestId as string);
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).toContain(secret);
  });

  it("carries the caller's X-Request-Id into the response and the log", async () => {
    const requestId = `trace-${randomUUID()}`;
    const { response, text } = await failingRequest('another hidden failure', { 'x-request-id': requestId });
    expect(text).not.toContain('another hidden failure');
    const body = JSON.parse(text) as { errors?: { extensions?: Record<string, unknown> }[] };
    expect(body.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    expect(internalErrorLogs(requestId)).toHaveLength(1);
  });
});
