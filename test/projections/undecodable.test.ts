// A stored event whose payload cannot be decoded (corrupted by hand, written by a
// foreign tool) is that event's failure in every projection: retried, then STALLED
// with its error and position. Before, the outbox reader threw while decoding it, so
// every projection retried the same read forever while reporting LIVE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePosition } from '../../src/outbox/position.ts';
import { PROJECTION_NAMES } from '../../src/projections/projection.ts';
import { readiness } from '../../src/server/http.ts';
import { createTestApp, type TestApp } from '../support/app.ts';
import { Projections, ResumeProjection } from '../support/documents.ts';
import { caughtUp, until } from '../support/projections.ts';
import { type Catalogue, givenCatalogue, runWorkload } from '../support/workload.ts';

let t: TestApp;
let catalogue: Catalogue;

beforeAll(async () => {
  t = await createTestApp();
  catalogue = await givenCatalogue(t.app, 3, 3);
  await t.startEngine({ maxAttempts: 3, retryBaseMs: 10, pollMs: 100 });
});
afterAll(async () => t.close());

describe('a stored event that cannot be decoded', () => {
  it('stalls every projection on that event with its error, and they go on once it is repaired', async () => {
    await runWorkload(t.app, catalogue, { writers: 2, commandsPerWriter: 10 });
    const { rows } = await t.pool.query<{ tx_id: string; seq: string; event_id: string }>(
      `INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, aggregate_version, schema_version, payload, actor)
       VALUES (gen_random_uuid(), 'OrderCreated', 'Order', gen_random_uuid(), 1, 1, '"not an order"'::jsonb, 'test')
       RETURNING tx_id::text AS tx_id, seq::text AS seq, event_id::text AS event_id`,
    );
    const bad = rows[0]!;
    const badPosition = encodePosition({ txId: BigInt(bad.tx_id), seq: BigInt(bad.seq) });
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
    const report = await readiness(t.pool);
    expect(report.ready).toBe(false);
    expect(report.checks.projections?.code).toBe('PROJECTION_STALLED');

    // Repaired (here: the foreign row removed), each projection resumes to the head.
    await t.pool.query('DELETE FROM outbox WHERE event_id = $1', [bad.event_id]);
    for (const name of PROJECTION_NAMES) {
      const resumed = await t.gql(ResumeProjection, { input: { name } });
      expect(resumed.data?.resumeProjection).toMatchObject({ __typename: 'ProjectionStatus', state: 'LIVE' });
    }
    await caughtUp(t.pool);
  });
});
