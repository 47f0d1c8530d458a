import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { knownVersion, VERSIONS_FROM } from '../../src/read/versions.ts';

const answering = (version: number) =>
  ({ query: async () => ({ rows: [{ name: 'order_list_view', version }] }) }) as unknown as pg.Pool;
const settle = () => new Promise((r) => setTimeout(r, 10));

describe('knownVersion', () => {
  it('learns a read model version from its own database, 0 until it has', async () => {
    const pool = answering(2);
    expect(knownVersion(pool, 'order_list_view')).toBe(0);
    await settle();
    expect(knownVersion(pool, 'order_list_view')).toBe(2);
  });

  it("never learns a replica's version from the primary its queries fall back to", async () => {
    const replica = {
      query: async () => {
        throw new Error('connection refused');
      },
    } as unknown as pg.Pool;
    // What the failover pool would answer: the primary's version, ahead of the replica's tables.
    const failover = Object.assign(answering(2), { [VERSIONS_FROM]: replica });
    knownVersion(failover, 'order_list_view');
    await settle();
    expect(knownVersion(failover, 'order_list_view')).toBe(0);
  });
});
