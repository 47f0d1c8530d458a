// INLINE mode: the projection is applied inside the command's own transaction, so its
// read-model changes commit with the write. The checkpoint is not moved here (that would
// pass events of transactions still in flight) and nothing is marked: the engine applies
// these events again when its checkpoint reaches them, which changes nothing where the
// inline apply took effect (applies are idempotent by aggregate version) and does the
// work where it could not (its row was behind: after a rebuild swap, a mode switch, or
// while another process runs the projection ASYNC). Whatever the modes, each event's
// effect is in the read model once.
//
// Each read model is written in its live version's table shape, read FOR SHARE first
// (a swap that changes it updates that row before it moves the tables: see shapes.ts).
// A read model already at a version newer than this code's is left to the engine.
import type { TransactionClient } from '../db/prisma.ts';
import { prismaSql } from '../db/sql.ts';
import type { StoredEvent } from '../outbox/append.ts';
import type { Projection } from './projection.ts';
import { atVersion, liveVersions } from './shapes.ts';

export function inlineProjectionsHook(projections: Projection[]) {
  const names = projections.map((p) => p.name);
  return async (tx: TransactionClient, events: StoredEvent[]): Promise<void> => {
    const sql = prismaSql(tx);
    const live = await liveVersions(sql, names, true);
    for (const projection of projections) {
      const version = live.get(projection.name) ?? projection.version;
      if (version <= projection.version) await projection.apply(atVersion(sql, projection.name, version), events);
    }
  };
}
