// Projector processes that crash, and two of them at once: the read models still equal
// a recomputation from the write tables, with every event applied exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSql } from '../../src/db/sql.ts';
import { readCheckpoints } from '../../src/projections/checkpoints.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { type ParallaxProcess, spawnProjector, waitForOutput } from '../support/processes.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

async function appliedTotal(t: TestApp): Promise<number> {
  return (await readCheckpoints(pgSql(t.readPool))).reduce((n, c) => n + c.eventsApplied, 0);
}

async function expectEachEventAppliedOnce(t: TestApp): Promise<void> {
  const outbox = Number((await t.pool.query('SELECT count(*) FROM outbox')).rows[0].count);
  for (const c of await readCheckpoints(pgSql(t.readPool))) expect(c.eventsApplied, c.name).toBe(outbox);
}

// Every projector this file started: a failed test must not leave them working on.
const spawned: ParallaxProcess[] = [];
function track(databases: Record<string, string>, env: Record<string, string>): ParallaxProcess {
  const p = spawnProjector(databases, env);
  spawned.push(p);
  return p;
}
afterAll(() => {
  for (const p of spawned) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

describe('projector processes killed with SIGKILL mid-batch', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp({ poolSize: 20 });
    catalogue = await givenCatalogue(t.app, 6, 6);
  });
  afterAll(async () => t.close());

  it('leave read models equal to the recomputation, nothing applied twice, after 6 kills under load', async () => {
    let writing = true;
    const writers = runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 100_000, stop: () => !writing });
    let kills = 0;
    try {
      for (let round = 0; round < 6; round++) {
        const before = await appliedTotal(t);
        // Small batches, so a kill lands inside a batch transaction most of the time.
        const projector = track(t.databaseEnv, { PROJECTION_BATCH_SIZE: '5', PROJECTION_LEASE_MS: '1000' });
        await until('the projector to apply something', async () => (await appliedTotal(t)) > before + 20, 60_000);
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 300));
        projector.child.kill('SIGKILL');
        const exit = await projector.exited;
        expect(exit.signal).toBe('SIGKILL');
        kills += 1;
      }
    } finally {
      writing = false;
      await writers;
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    const last = track(t.databaseEnv, { LOG_LEVEL: 'info', PROJECTION_LEASE_MS: '1000' });
    await waitForOutput(last, 'projection engine started');
    await caughtUp(t.pools);
    // SIGTERM: the current batch finishes and the process exits cleanly.
    last.child.kill('SIGTERM');
    expect((await last.exited).code).toBe(0);
    await expectReadModelsMatchWriteTables(t.pools);
    await expectEachEventAppliedOnce(t);
  });
});

describe('two projector processes at once', () => {
  let t: TestApp;
  let catalogue: Catalogue;
  beforeAll(async () => {
    t = await createTestApp({ poolSize: 20 });
    catalogue = await givenCatalogue(t.app, 6, 6);
  });
  afterAll(async () => t.close());

  it('never both apply the same batch: every event is applied once and the read models match', async () => {
    // Leases off: both run every projection, kept apart only by the checkpoint lock.
    const env = { PROJECTION_BATCH_SIZE: '10', LOG_LEVEL: 'info', PROJECTION_LEASES: 'off' };
    const a = track(t.databaseEnv, env);
    const b = track(t.databaseEnv, env);
    try {
      await waitForOutput(a, 'projection engine started');
      await waitForOutput(b, 'projection engine started');
      await runWorkload(t.app, catalogue, { writers: 4, commandsPerWriter: 150 });
      await caughtUp(t.pools);
    } finally {
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
    }
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
    await expectReadModelsMatchWriteTables(t.pools);
    await expectEachEventAppliedOnce(t);
  });
});
