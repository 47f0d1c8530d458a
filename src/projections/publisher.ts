// What a runner tells the bus, always after its batch committed: each changed row and
// then the new checkpoint position (with where the batch started, so subscribers can
// tell a batch whose publish was lost), a stall (the checkpoint, and the failing event
// as a field of its own), and a rebuild's progress.
import { SpanStatusCode, type Context as TraceContext } from '@opentelemetry/api';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  type Bus,
  CHANNELS,
  type ChangeMessage,
  type PositionMessage,
  type RebuildProgressMessage,
} from '../bus/bus.ts';
import { pgSql } from '../db/sql.ts';
import { tracer } from '../observability/tracing.ts';
import { encodePosition, type Position } from '../outbox/position.ts';
import type { ProjectionName, ReadModelChange } from './projection.ts';
import { rebuildsInProgress } from './rebuild.ts';

export class BatchPublisher {
  private readonly startedAt = Date.now();

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly projection: ProjectionName,
  ) {}

  private positionMessage(p: Position, after?: Position): PositionMessage {
    return {
      projection: this.projection,
      position: encodePosition(p),
      txId: p.txId.toString(),
      seq: p.seq.toString(),
      state: 'LIVE',
      ...(after ? { after: encodePosition(after) } : {}),
    };
  }

  /** The batch `(after, position]`'s changed rows, then its position. */
  async batch(position: Position, changes: ReadModelChange[], parent: TraceContext, after?: Position): Promise<void> {
    const token = encodePosition(position);
    const committedAt = Date.now();
    const span = tracer().startSpan(
      'bus publish',
      { attributes: { 'parallax.projection': this.projection, 'parallax.messages': changes.length + 1 } },
      parent,
    );
    try {
      for (const change of changes) {
        const message: ChangeMessage = {
          projection: change.projection,
          position: token,
          key: change.key,
          row: change.row,
        };
        await this.bus.publish(CHANNELS.readModelChanges, message);
      }
      await this.bus.publish(CHANNELS.positions, { ...this.positionMessage(position, after), committedAt });
    } catch (error) {
      // The batch is committed; subscribers recover from positions (resume), so a lost
      // publish costs latency, never data.
      this.log.warn({ err: error, projection: this.projection }, 'publish after commit failed');
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'publish after commit failed' });
    }
    span.end();
  }

  /** A stall: the position stays the committed checkpoint's; the failing event is `errorPosition`. */
  async stall(checkpoint: Position, failedAt: Position): Promise<void> {
    const message: PositionMessage = {
      ...this.positionMessage(checkpoint),
      state: 'STALLED',
      errorPosition: encodePosition(failedAt),
    };
    await this.bus.publish(CHANNELS.positions, message).catch(() => {});
  }

  /** A rebuild's progress (a shadow publishes nothing under the live name). */
  async progress(pool: pg.Pool, done: boolean): Promise<void> {
    const [state] = (await rebuildsInProgress(pgSql(pool)).catch(() => [])).filter((r) => r.name === this.projection);
    const processed = done ? (state?.totalEvents ?? 0) : (state?.processed ?? 0);
    const total = state?.totalEvents ?? processed;
    const elapsed = Date.now() - this.startedAt;
    const message: RebuildProgressMessage = {
      projection: this.projection,
      processed,
      total,
      etaMs: done || processed === 0 ? 0 : Math.round((elapsed / processed) * Math.max(0, total - processed)),
      done,
    };
    await this.bus.publish(CHANNELS.rebuildProgress, message).catch(() => {});
  }
}
