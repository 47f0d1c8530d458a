// Secrets and tokens: no default secret in production, and every bad token is
// UNAUTHENTICATED (bad signature, expired, foreign-signed, unknown role, alg none).
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts';
import { spawnParallax } from '../support/processes.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

function sign(claims: Record<string, unknown>, secret = TEST_JWT_SECRET, expires: string | number = '1h') {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('someone')
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(new TextEncoder().encode(secret));
}

async function expectUnauthenticated(token: string) {
  const res = await t.request({ query: '{ products { id } }' }, { authorization: `Bearer ${token}` });
  expect(res.status).toBe(401);
  expect(res.json.data ?? null).toBeNull();
  expect(res.json.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
}

describe('tokens', () => {
  it('accepts a good admin token (the control)', async () => {
    const res = await t.request(
      { query: '{ products { id } }' },
      { authorization: `Bearer ${await sign({ role: 'admin' })}` },
    );
    expect(res.json.errors).toBeUndefined();
  });

  it('rejects a token with a tampered signature', async () => {
    const token = await sign({ role: 'admin' });
    const [h, p, s] = token.split('.');
    await expectUnauthenticated(`${h}.${p}.${s!.slice(0, -4)}${s!.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`);
  });

  it('rejects a token whose payload was changed after signing', async () => {
    const token = await sign({ role: 'support' });
    const [h, , s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'someone', role: 'admin', exp: 9_999_999_999 })).toString(
      'base64url',
    );
    await expectUnauthenticated(`${h}.${forged}.${s}`);
  });

  it('rejects an expired token', async () => {
    await expectUnauthenticated(await sign({ role: 'admin' }, TEST_JWT_SECRET, Math.floor(Date.now() / 1000) - 60));
  });

  it('rejects a token signed with another secret', async () => {
    await expectUnauthenticated(await sign({ role: 'admin' }, 'another-secret-of-at-least-32-characters!'));
  });

  it('rejects an unknown role, and a customer token without a customerId', async () => {
    await expectUnauthenticated(await sign({ role: 'superuser' }));
    await expectUnauthenticated(await sign({ role: 'customer' }));
  });

  it('rejects an unsigned (alg none) token and garbage', async () => {
    await expectUnauthenticated(new UnsecuredJWT({ role: 'admin' }).setSubject('x').encode());
    await expectUnauthenticated('not-a-jwt');
  });

  it('rejects a bad token on a subscription too', async () => {
    const response = await t.yoga.fetch('http://test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${await sign({ role: 'admin' }, 'another-secret-of-at-least-32-characters!')}`,
      },
      body: JSON.stringify({ query: 'subscription { projectionPositions { position } }' }),
    });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('UNAUTHENTICATED');
  });
});

describe('the secret', () => {
  it('is required with NODE_ENV=production, and must be long enough', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(ConfigError);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).jwtSecret).toBe('x'.repeat(32));
  });

  it('has no default in the configuration: without JWT_SECRET it is unset (main.ts makes a random one for development)', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).jwtSecret).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'test' }).jwtSecret).toBeUndefined();
  });

  it('the service refuses to start without it, in production or with its own DATABASE_URL', async () => {
    for (const env of [
      { NODE_ENV: 'production', JWT_SECRET: '' } as Record<string, string>,
      { NODE_ENV: 'development', JWT_SECRET: '', DATABASE_URL: t.databaseUrl },
    ]) {
      const proc = spawnParallax(env);
      const { code } = await proc.exited;
      expect(code).not.toBe(0);
      expect(proc.output.join('')).toContain('configuration error: JWT_SECRET is required');
    }
  });
});
