import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.ts';
import { caughtUp, expectReadModelsMatchWriteTables } from '../support/projections.ts';
import { givenCatalogue, runWorkload } from '../support/workload.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ poolSize: 30 });
  await t.startEngine({ batchSize: 50 });
});
afterAll(async () => t.close());

describe('projection engine under concurrent writers', () => {
  it('keeps every read model equal to a recomputation from the write tables (8 writers × 250 mixed commands)', async () => {
    const catalogue = await givenCatalogue(t.app);
    const result = await runWorkload(t.app, catalogue, { writers: 8, commandsPerWriter: 250 });
    expect(result.acknowledged + result.rejected).toBe(2000);
    expect(result.acknowledged).toBeGreaterThan(1000);
    await caughtUp(t.pools);
    await expectReadModelsMatchWriteTables(t.pools);
    // Each projection applied each event exactly once.
    const outbox = (await t.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox')).rows[0]!.n;
    const { rows } = await t.readPool.query<{ name: string; events_applied: string }>(
      'SELECT name, events_applied::text FROM projection_checkpoints',
    );
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) expect(row.events_applied, row.name).toBe(outbox);
  });
});
