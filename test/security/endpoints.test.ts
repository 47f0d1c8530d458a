// The endpoints that answer without a GraphQL token: /ready names the failing check by
// code, never with stored error text or a database message; /metrics asks for
// METRICS_TOKEN when it is set.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { readiness } from '../../src/server/http.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { listen } from '../support/server.ts';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const QUOTE = 'cannot file the rename of "Ada Lovelace <ada@example.com>"';

let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  t = await createTestApp({ env: { METRICS_TOKEN } });
  server = await listen(t, t.yoga, { ready: () => readiness(t.pools, { log: t.app.log }) });
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

describe('/ready', () => {
  it('names a stalled projection by code, without its stored error text (finding 4)', async () => {
    await t.pool.query(
      `INSERT INTO projection_checkpoints (name, state, last_error) VALUES ('order_search', 'STALLED', $1)
         ON CONFLICT (name) DO UPDATE SET state = 'STALLED', last_error = $1`,
      [QUOTE],
    );
    try {
      const response = await fetch(`${server.base}/ready`);
      const text = await response.text();
      expect(response.status).toBe(503);
      expect(text).not.toContain('Ada');
      expect(text).not.toContain('ada@example.com');
      expect(text).not.toContain('cannot file');
      expect(JSON.parse(text).checks.projections).toEqual({
        ok: false,
        code: 'PROJECTION_STALLED',
        detail: [{ name: 'order_search', state: 'STALLED' }],
      });
    } finally {
      await t.pool.query(
        `UPDATE projection_checkpoints SET state = 'LIVE', last_error = NULL WHERE name = 'order_search'`,
      );
    }
  });

  it('answers a database failure with a code; the message goes to the log only', async () => {
    const url = new URL(t.databaseUrl);
    url.pathname = '/parallax_no_such_database';
    const gone = new pg.Pool({ connectionString: url.toString(), max: 1 });
    try {
      const logged = t.logs.length;
      const report = await readiness(gone, { log: t.app.log });
      expect(report.ready).toBe(false);
      expect(report.checks.database).toEqual({ ok: false, code: 'DATABASE_ERROR' });
      expect(JSON.stringify(report)).not.toContain('parallax_no_such_database');
      expect(t.logs.slice(logged).map((l) => l.msg)).toContain('readiness check failed');
    } finally {
      await gone.end();
    }
  });
});

describe('/metrics', () => {
  it('requires Authorization: Bearer <METRICS_TOKEN> when it is set', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${METRICS_TOKEN}`, METRICS_TOKEN]) {
      const response = await fetch(`${server.base}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      expect(response.status, authorization).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('Bearer');
      expect(await response.text()).not.toContain('parallax_');
    }
    const ok = await fetch(`${server.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('parallax_');
  });

  it('reads METRICS_TOKEN (unset: no token asked), and refuses a short one', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).metricsToken).toBeUndefined();
    expect(() => loadConfig({ NODE_ENV: 'test', METRICS_TOKEN: 'short' })).toThrow(ConfigError);
  });
});
