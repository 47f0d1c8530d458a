// A stored event whose payload cannot be decoded (corrupted by hand, written by a
// foreign tool) is that event's failure in every projection: retried, then parked
// (the default policy) or, with `stall`, STALLED with its error and position. Before,
// the outbox reader threw while decoding it, so every projection retried the same read
// forever while reporting LIVE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePosition } from '../../src/outbox/position.ts';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { readiness } from '../../src/server/http.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { ParkedEvents, Projections, ResumeProjection } from '../support/documents.ts';
import { caughtUp, expectReadModelsMatchWriteTables, until } from '../support/projections.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

let t: TestApp;
let catalogue: Catalogue;

/** A corrupted OrderCreated (a JSON string for a payload), then a sound later event of the same order. */
async function corruptOrder() {
  const { rows } = await t.pool.query<{ tx_id: string; seq: string; event_id: string; aggregate_id: string }>(
    `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version, payload, actor)
     VALUES (gen_random_uuid(), 'OrderCreated', 'Order', gen_random_uuid(), 1, 1, '"not an order"'::jsonb, 'test')
     RETURNING tx_id::text AS tx_id, seq::text AS seq, event_id::text AS event_id, aggregate_id::text AS aggregate_id`,
  );
  const bad = rows[0]!;
  const later = await t.pool.query<{ tx_id: string; seq: string }>(
    `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version, payload, actor)
     VALUES (gen_random_uuid(), 'OrderCancelled', 'Order', $1::uuid, 2, 1,
             jsonb_build_object('orderId', $1::text, 'from', 'PENDING'), 'test')
     RETURNING tx_id::text AS tx_id, seq::text AS seq`,
    [bad.aggregate_id],
  );
  const position = (r: { tx_id: string; seq: string }) => encodePosition({ txId: BigInt(r.tx_id), seq: BigInt(r.seq) });
  return { ...bad, position: position(bad), laterPosition: position(later.rows[0]!) };
}

describe('a stored event that cannot be decoded, under the default park policy', () => {
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 3, 3);
    await t.startEngine({ maxAttempts: 3, retryBaseMs: 10, pollMs: 100 });
  });
  afterAll(async () => t.close());

  it("is parked in every projection, with its order's later event behind it, while everything else reaches the head", async () => {
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 10 });
    const bad = await corruptOrder();
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 10 });

    await caughtUp(t.pools);
    const status = (await t.gql(Projections)).data!.projections;
    expect(status).toHaveLength(PROJECTION_NAMES.length);
    for (const p of status) {
      expect(p, p.name).toMatchObject({ state: 'LIVE', lagEvents: 0, parkedEvents: 2, parkedAggregates: 1 });
      const parked = (await t.gql(ParkedEvents, { projection: p.name as (typeof PROJECTION_NAMES)[number] })).data!
        .parkedEvents;
      expect(
        parked.map((e) => [e.position, e.aggregateId, e.reason]),
        p.name,
      ).toEqual([
        [bad.position, bad.aggregate_id, 'FAILED'],
        [bad.laterPosition, bad.aggregate_id, 'BEHIND'],
      ]);
      expect(parked[0]!.error, p.name).toContain(`outbox event ${bad.event_id}`);
      expect(parked[0]!.error, p.name).toContain('cannot be decoded: its payload is a string, not an object');
      expect(parked[0]!.payload, p.name).toBe(JSON.stringify('not an order'));
    }
    await expectReadModelsMatchWriteTables(t.pools, PROJECTION_NAMES, { allowParked: true });
    const report = await readiness(t.pools);
    expect(report.ready).toBe(true);
    expect(report.checks.parked?.code).toBe('PROJECTION_PARKED');
  });
});

describe('a stored event that cannot be decoded, under the stall policy', () => {
  beforeAll(async () => {
    t = await createTestApp();
    catalogue = await givenCatalogue(t.app, 3, 3);
    await t.startEngine({ onFailure: 'stall', maxAttempts: 3, retryBaseMs: 10, pollMs: 100 });
  });
  afterAll(async () => t.close());

  it('stalls every projection on that event with its error, and they go on once it is repaired', async () => {
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 10 });
    const bad = await corruptOrder();
    const badPosition = bad.position;
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 10 });

    const stalled = await until('every projection to stall on the event', async () => {
      const res = await t.gql(Projections);
      const all = res.data?.projections ?? [];
      return all.length === PROJECTION_NAMES.length && all.every((p) => p.state === 'STALLED') ? all : undefined;
    });
    for (const p of stalled) {
      expect(p.errorPosition, p.name).toBe(badPosition);
      expect(p.lastError, p.name).toContain(`outbox event ${bad.event_id}`);
      expect(p.lastError, p.name).toContain('cannot be decoded: its payload is a string, not an object');
      expect(p.lagEvents, p.name).toBeGreaterThan(0);
    }
    const report = await readiness(t.pools);
    expect(report.ready).toBe(false);
    expect(report.checks.projections?.code).toBe('PROJECTION_STALLED');

    // Repaired (here: the foreign rows removed), each projection resumes to the head.
    await t.pool.query('DELETE FROM outbox WHERE aggregate_id = $1::uuid', [bad.aggregate_id]);
    for (const name of PROJECTION_NAMES) {
      const resumed = await t.gql(ResumeProjection, { input: { name } });
      expect(resumed.data?.resumeProjection).toMatchObject({ __typename: 'ProjectionStatus', state: 'LIVE' });
    }
    await caughtUp(t.pools);
  });
});
