// INLINE mode: the projection is applied inside the command's own transaction, so its
// read model changes commit with the write. The checkpoint is not moved here (that
// would pass events of transactions still in flight); instead each applied event is
// marked, and the engine skips marked events when its checkpoint reaches them.
import type { TransactionClient } from '../db/prisma.ts';
import type { StoredEvent } from '../outbox/append.ts';
import type { Projection } from './projection.ts';
import { prismaSql } from './sql.ts';

export function inlineProjectionsHook(projections: Projection[]) {
  return async (tx: TransactionClient, events: StoredEvent[]): Promise<void> => {
    if (!projections.length) return;
    const sql = prismaSql(tx);
    const seqs = events.map((e) => e.position.seq.toString());
    for (const projection of projections) {
      await projection.apply(sql, events);
      await sql.execute(
        `INSERT INTO projection_inline_applied (projection, seq) SELECT $1, unnest($2::text[])::bigint`,
        [projection.name, seqs],
      );
    }
  };
}
