// Re-publishes a range of the outbox to the stream with the same message ids, for a
// consumer (or a stream) that lost messages: `npm run cli -- relay replay --from <position>`.
//
// The range ends at the relay's checkpoint: everything up to it has been acknowledged
// by JetStream, so re-publishing it (in order per aggregate, see publishInOrder) cannot
// overtake an event the relay has yet to publish. Events still inside the stream's
// duplicate window are dropped by JetStream as duplicates (they are in the stream);
// older ones are stored again, after the newer events: a consumer of a replay
// de-duplicates by the Parallax-Event-Id header.
import type pg from 'pg';
import type { RelayConfig } from '../config.ts';
import { pgSql } from '../db/sql.ts';
import { comparePositions, type Position, positionBefore, ZERO_POSITION } from '../outbox/position.ts';
import { assertDecoded, readCommitted } from '../outbox/reader.ts';
import { readRelayCheckpoint } from './checkpoint.ts';
import { connectJetStream, ensureStream, publishInOrder } from './jetstream.ts';
import { NATS_RELAY } from './relay.ts';

export interface ReplayResult {
  /** Events re-published. */
  events: number;
  stored: number;
  duplicates: number;
  /** The relay checkpoint the replay stopped at (null: the relay has published nothing). */
  until: Position | null;
}

export async function replayRange(
  pool: pg.Pool,
  config: RelayConfig,
  from: Position,
  onProgress?: (done: number) => void,
): Promise<ReplayResult> {
  const sql = pgSql(pool);
  const checkpoint = await readRelayCheckpoint(sql, NATS_RELAY);
  const until = checkpoint && comparePositions(checkpoint.position, ZERO_POSITION) > 0 ? checkpoint.position : null;
  const result: ReplayResult = { events: 0, stored: 0, duplicates: 0, until };
  if (!until || comparePositions(from, until) > 0) return result;
  const link = await connectJetStream(config, 'parallax-relay replay');
  try {
    await ensureStream(link.nc, config);
    let after: Position = positionBefore(from);
    for (;;) {
      const events = (await readCommitted(sql, after, config.batchSize)).filter(
        (e) => comparePositions(e.position, until) <= 0,
      );
      if (!events.length) break;
      assertDecoded(events);
      const published = await publishInOrder(link.js, config.subjectPrefix, events);
      result.events += events.length;
      result.stored += published.stored;
      result.duplicates += published.duplicates;
      onProgress?.(result.events);
      after = events.at(-1)!.position;
      if (comparePositions(after, until) >= 0) break;
    }
  } finally {
    await link.close();
  }
  return result;
}
