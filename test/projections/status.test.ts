import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from '../generated/index.js';
import { createCaughtUpTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, until } from '../support/projections.ts';
import { type Catalogue, runWorkload } from '../support/workload.ts';

const Status = graphql(`
  query ProjectionLag {
    projections { name state lagEvents lagMs }
    outbox { head horizonHolders { pid ageMs query applicationName } }
  }
`);

let t: TestApp;
let catalogue: Catalogue;
beforeAll(async () => {
  ({ t, catalogue } = await createCaughtUpTestApp({ products: 3, customers: 3 }, { pollMs: 100 }));
});
afterAll(async () => t.close());

describe('projections and outbox status', () => {
  it('report a long-open transaction as the horizon holder while lag grows, and zero lag after it ends', async () => {
    const holder = await t.pool.connect();
    try {
      await holder.query('BEGIN');
      const { rows } = await holder.query('SELECT pg_backend_pid() AS pid, pg_current_xact_id()::text AS xid');
      await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 10 });
      const held = await until('lag to show', async () => {
        const res = await t.gql(Status);
        return res.data?.projections.every((p) => p.lagEvents > 0 && p.lagMs > 0) ? res.data : undefined;
      });
      // Transaction ids are cluster-wide, so another database's transaction may be older.
      const ours = held.outbox.horizonHolders.find((h) => h.pid === rows[0].pid);
      expect(ours?.query).toContain('pg_current_xact_id');
      for (const p of held.projections) expect(p.state).toBe('LIVE');
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    await caughtUp(t.pools);
    const after = await t.gql(Status);
    for (const p of after.data!.projections) expect(p).toMatchObject({ lagEvents: 0, lagMs: 0 });
  });
});
