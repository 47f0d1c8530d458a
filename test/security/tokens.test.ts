// Secrets and tokens: no default secret in production, and every bad token is
// UNAUTHENTICATED (bad signature, expired, foreign-signed, unknown role, alg none, no
// exp, a lifetime over JWT_MAX_AGE, issued in the future, wrong issuer or audience).
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService, Unauthenticated } from '../../src/auth/jwt.ts';
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

/** A token with exactly these time claims (undefined: the claim is left out). */
function timed(claims: { iat?: number; exp?: number }, secret = TEST_JWT_SECRET) {
  const jwt = new SignJWT({ role: 'admin', ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject('someone');
  return jwt.sign(new TextEncoder().encode(secret));
}

const now = () => Math.floor(Date.now() / 1000);
const YEAR = 365 * 86_400;

describe('token lifetime (finding 5)', () => {
  it('rejects a token without exp, one living 100 years, and one issued 10 years ahead', async () => {
    await expectUnauthenticated(await timed({ iat: now() }));
    await expectUnauthenticated(await timed({}));
    await expectUnauthenticated(await timed({ iat: now(), exp: now() + 100 * YEAR }));
    await expectUnauthenticated(await timed({ iat: now() + 10 * YEAR, exp: now() + 10 * YEAR + 60 }));
  });

  it('holds a lifetime to JWT_MAX_AGE (default 24 h): exp - iat, or exp - now without iat', async () => {
    expect(t.app.config.jwt.maxAgeSeconds).toBe(86_400);
    const ok = async (token: string) => {
      const res = await t.request({ query: '{ products { id } }' }, { authorization: `Bearer ${token}` });
      expect(res.json.errors, JSON.stringify(res.json)).toBeUndefined();
    };
    await ok(await timed({ iat: now(), exp: now() + 86_400 }));
    await ok(await timed({ exp: now() + 3_600 }));
    // Issued an hour ago for 25 hours: it has 24 left, but claims more than allowed.
    await expectUnauthenticated(await timed({ iat: now() - 3_600, exp: now() + 86_400 }));
    await expectUnauthenticated(await timed({ exp: now() + 2 * 86_400 }));
  });

  it('tolerates an issuer clock up to JWT_CLOCK_SKEW (30 s) ahead, not more', async () => {
    const ok = await t.request(
      { query: '{ products { id } }' },
      { authorization: `Bearer ${await timed({ iat: now() + 10, exp: now() + 600 })}` },
    );
    expect(ok.json.errors).toBeUndefined();
    await expectUnauthenticated(await timed({ iat: now() + 120, exp: now() + 600 }));
  });

  it('reads JWT_MAX_AGE as seconds or with a unit, and refuses nonsense', () => {
    expect(loadConfig({ NODE_ENV: 'test', JWT_MAX_AGE: '3600' }).jwt.maxAgeSeconds).toBe(3600);
    expect(loadConfig({ NODE_ENV: 'test', JWT_MAX_AGE: '30m' }).jwt.maxAgeSeconds).toBe(1800);
    expect(loadConfig({ NODE_ENV: 'test', JWT_MAX_AGE: '7d' }).jwt.maxAgeSeconds).toBe(7 * 86_400);
    for (const bad of ['forever', '-1', '10', '2y', '1.5h']) {
      expect(() => loadConfig({ NODE_ENV: 'test', JWT_MAX_AGE: bad }), bad).toThrow(ConfigError);
    }
  });

  it('signs tokens its own rules accept, whatever JWT_MAX_AGE is', async () => {
    const tokens = new TokenService(TEST_JWT_SECRET, { maxAgeSeconds: 600 });
    expect(await tokens.verify(await tokens.sign({ sub: 'short', role: 'support' }))).toEqual({
      sub: 'short',
      role: 'support',
    });
    await expect(tokens.verify(await tokens.sign({ sub: 'long', role: 'support' }, '2h'))).rejects.toBeInstanceOf(
      Unauthenticated,
    );
  });
});

describe('issuer and audience', () => {
  const rules = { issuer: 'https://id.example', audience: 'parallax' };

  it('are required as configured (JWT_ISSUER, JWT_AUDIENCE) and unchecked when unset', async () => {
    const config = loadConfig({ NODE_ENV: 'test', JWT_ISSUER: rules.issuer, JWT_AUDIENCE: rules.audience });
    expect(config.jwt).toMatchObject(rules);
    const strict = new TokenService(TEST_JWT_SECRET, config.jwt);
    const lax = new TokenService(TEST_JWT_SECRET);
    const subject = { sub: 'someone', role: 'admin' } as const;
    expect(await strict.verify(await strict.sign(subject))).toEqual(subject);
    // A token without them, or from another issuer or for another audience.
    await expect(strict.verify(await lax.sign(subject))).rejects.toBeInstanceOf(Unauthenticated);
    const foreignIssuer = new TokenService(TEST_JWT_SECRET, { ...rules, issuer: 'https://other.example' });
    await expect(strict.verify(await foreignIssuer.sign(subject))).rejects.toBeInstanceOf(Unauthenticated);
    const foreignAudience = new TokenService(TEST_JWT_SECRET, { ...rules, audience: 'billing' });
    await expect(strict.verify(await foreignAudience.sign(subject))).rejects.toBeInstanceOf(Unauthenticated);
    expect(await lax.verify(await strict.sign(subject))).toEqual(subject);
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
      { NODE_ENV: 'development', JWT_SECRET: '', ...t.databaseEnv },
    ]) {
      const proc = spawnParallax(env);
      const { code } = await proc.exited;
      expect(code).not.toBe(0);
      expect(proc.output.join('')).toContain('configuration error: JWT_SECRET is required');
    }
  });
});
