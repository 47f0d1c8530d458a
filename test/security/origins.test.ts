// What other web pages and other machines can reach: GraphiQL (which carries the admin
// token in development) only for this origin, CORS only for CORS_ORIGINS, and outside
// production the service listens on the loopback interface unless HOST says otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { createGraphQLServer } from '../../src/graphql/yoga.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { listen, postAsAdmin, type TestServer } from '../support/server.ts';

const EVIL = 'http://evil.example';
const SHOP = 'https://shop.example';

let t: TestApp;
let server: TestServer;

beforeAll(async () => {
  t = await createTestApp({ env: { CORS_ORIGINS: `${SHOP},http://localhost:5173` } });
  // The development set-up: GraphiQL opens with the admin token in its headers.
  server = await listen(t, createGraphQLServer(t.app, { graphiqlToken: t.adminToken }));
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

function corsHeaders(response: Response): Record<string, string> {
  return Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));
}

describe('GraphiQL with the development admin token', () => {
  it('is refused to a page of another origin, with no CORS header and without the token (finding 1)', async () => {
    const response = await fetch(server.url, { headers: { origin: EVIL, accept: 'text/html' } });
    const body = await response.text();
    expect(response.status).toBe(403);
    expect(body).not.toContain(t.adminToken);
    expect(body).toContain('FORBIDDEN');
    expect(corsHeaders(response)).toEqual({});
    expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });

  it('is refused to a cross-site or same-site fetch as browsers label them', async () => {
    for (const site of ['cross-site', 'same-site']) {
      const response = await fetch(server.url, { headers: { 'sec-fetch-site': site, accept: 'text/html' } });
      expect(response.status).toBe(403);
      expect(await response.text()).not.toContain(t.adminToken);
    }
  });

  it('is served to the address bar and to its own origin, under a strict policy and without CORS', async () => {
    const own = new URL(server.url).origin;
    const variants: Record<string, string>[] = [
      { 'sec-fetch-site': 'none', accept: 'text/html' },
      { 'sec-fetch-site': 'same-origin', origin: own, accept: 'text/html' },
      { accept: 'text/html' },
    ];
    for (const headers of variants) {
      const response = await fetch(server.url, { headers });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(t.adminToken);
      expect(corsHeaders(response)).toEqual({});
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
      expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('gives an allowed origin no GraphiQL either: CORS_ORIGINS is for the API only', async () => {
    const response = await fetch(server.url, { headers: { origin: SHOP, accept: 'text/html' } });
    expect(response.status).toBe(403);
    expect(corsHeaders(response)).toEqual({});
  });
});

describe('CORS for the API', () => {
  const query = JSON.stringify({ query: '{ products { id } }' });

  it('answers another origin with no CORS header, so its page cannot read the answer', async () => {
    const response = await postAsAdmin(server.url, t.adminToken, query, { origin: EVIL });
    expect(corsHeaders(response)).toEqual({});
    const preflight = await fetch(server.url, {
      method: 'OPTIONS',
      headers: {
        origin: EVIL,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(corsHeaders(preflight)).toEqual({});
  });

  it('lets an origin of CORS_ORIGINS read answers, naming only that origin and never credentials', async () => {
    const preflight = await fetch(server.url, {
      method: 'OPTIONS',
      headers: {
        origin: SHOP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();

    const response = await postAsAdmin(server.url, t.adminToken, query, { origin: SHOP });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(SHOP);
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('reads CORS_ORIGINS as exact origins and refuses wildcards and paths', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).corsOrigins).toEqual([]);
    expect(
      loadConfig({ NODE_ENV: 'test', CORS_ORIGINS: ' https://a.example , http://localhost:5173' }).corsOrigins,
    ).toEqual(['https://a.example', 'http://localhost:5173']);
    for (const bad of ['*', 'https://a.example/path', 'a.example', 'ftp://a.example']) {
      expect(() => loadConfig({ NODE_ENV: 'test', CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
    }
  });
});

describe('the listen address', () => {
  it('is the loopback interface outside production unless HOST is set (finding 1)', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).host).toBe('127.0.0.1');
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).host).toBe('0.0.0.0');
  });
});
