// /ready through a real HTTP server: not ready while lag exceeds READY_MAX_LAG_MS or a
// migration is missing, ready again after; the body names the failing check. (A STALLED
// projection turning /ready to 503 and back is in metrics.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { readiness } from '../../src/server/http.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { givenCustomer } from '../support/fixtures.ts';
import { caughtUp, until } from '../support/projections.ts';
import { listen } from '../support/server.ts';

interface ReadyBody {
  ready: boolean;
  checks: Record<string, { ok: boolean; detail?: unknown }>;
}

const MAX_LAG_MS = 300;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;

async function ready(): Promise<{ status: number; body: ReadyBody }> {
  const response = await fetch(`${server.base}/ready`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

beforeAll(async () => {
  t = await createTestApp({ env: { READY_MAX_LAG_MS: String(MAX_LAG_MS) } });
  server = await listen(t, t.yoga, { ready: () => readiness(t.pools, { maxLagMs: t.app.config.readyMaxLagMs }) });
});
afterAll(async () => {
  await server?.close();
  await t?.close();
});

describe('/ready', () => {
  it('reads READY_MAX_LAG_MS (default 60000)', () => {
    expect(t.app.config.readyMaxLagMs).toBe(MAX_LAG_MS);
    expect(loadConfig({ NODE_ENV: 'test' }).readyMaxLagMs).toBe(60_000);
    expect(() => loadConfig({ NODE_ENV: 'test', READY_MAX_LAG_MS: 'soon' })).toThrow(/READY_MAX_LAG_MS/);
  });

  it('is ready with the database up, migrations applied and nothing to apply', async () => {
    const { status, body } = await ready();
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.checks).toMatchObject({
      database: { ok: true },
      migrations: { ok: true },
      projections: { ok: true },
      lag: { ok: true },
    });
  });

  it('turns not ready while lag exceeds the threshold, and ready again once the engine catches up', async () => {
    // No engine yet: the event waits in the outbox and ages past the threshold.
    await givenCustomer(t);
    // Each projection's lag is read on its own, a moment apart: the first 503 can come
    // while one of them is still just under the threshold. Wait until all four are over it.
    const lagging = await until('/ready to report the lag of every projection', async () => {
      const r = await ready();
      const detail = r.body.checks.lag?.detail as { lagging?: unknown[] } | undefined;
      return r.status === 503 && detail?.lagging?.length === 4 ? r : undefined;
    });
    expect(lagging.body.ready).toBe(false);
    expect(lagging.body.checks.lag?.ok).toBe(false);
    const detail = lagging.body.checks.lag?.detail as { maxLagMs: number; lagging: { name: string; lagMs: number }[] };
    expect(detail.maxLagMs).toBe(MAX_LAG_MS);
    expect(detail.lagging.map((l) => l.name).sort()).toEqual(
      ['customer_order_history', 'order_analytics', 'order_list_view', 'order_search'].sort(),
    );
    for (const l of detail.lagging) expect(l.lagMs).toBeGreaterThan(MAX_LAG_MS);
    expect(lagging.body.checks.projections?.ok).toBe(true);

    await t.startEngine();
    await caughtUp(t.pools);
    const after = await ready();
    expect(after.status, JSON.stringify(after.body)).toBe(200);
    expect(after.body.checks.lag?.ok).toBe(true);
  });

  it('turns not ready when a migration of this code is not applied, naming it', async () => {
    const [last] = (
      await t.pool.query<{ migration_name: string }>(
        'SELECT migration_name FROM "_prisma_migrations" ORDER BY migration_name DESC LIMIT 1',
      )
    ).rows;
    await t.pool.query('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1', [
      last!.migration_name,
    ]);
    try {
      const { status, body } = await ready();
      expect(status).toBe(503);
      expect(body.checks.migrations).toEqual({
        ok: false,
        code: 'MIGRATIONS_MISSING',
        detail: { missing: [last!.migration_name] },
      });
    } finally {
      await t.pool.query('UPDATE "_prisma_migrations" SET rolled_back_at = NULL WHERE migration_name = $1', [
        last!.migration_name,
      ]);
    }
    expect((await ready()).status).toBe(200);
  });

  it('answers 503 DATABASE_UNAVAILABLE when the checks do not answer in time', async () => {
    // A database that accepts the connection and never answers: the probe still gets an answer.
    const hung = await listen(t, t.yoga, { ready: () => new Promise(() => {}), readyTimeoutMs: 300 });
    try {
      const response = await fetch(`${hung.base}/ready`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        ready: false,
        checks: { database: { ok: false, code: 'DATABASE_UNAVAILABLE', detail: { timeoutMs: 300 } } },
      });
    } finally {
      await hung.close();
    }
  });

  it('answers /health while the process is alive', async () => {
    const response = await fetch(`${server.base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });
});
