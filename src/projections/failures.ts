// A runner's failures. A lost connection or a restarting database applied nothing: the
// batch is retried after a backoff. A projection that throws is narrowed down to the one
// event that fails (batches of 1), so STALLED names it exactly; after maxAttempts on that
// event it parks the event (policy `park`, see parking.ts) or stalls (`stall`, and always
// for a rebuild's shadow); it never skips an event by itself.
import type { Logger } from 'pino';
import type { Sql } from '../db/sql.ts';
import type { ApplyError } from './batch.ts';
import { recordFailure } from './checkpoints.ts';
import type { FailurePolicy } from './parking.ts';

/**
 * An error that says nothing about the event: the database rolled the batch back
 * (serialization failure, deadlock), cancelled or lost it, or a concurrent INLINE
 * command changed a row the batch had loaded (tables.ts). Retried without counting
 * toward parking or stalling: a good event is never parked for a passing condition.
 */
export function isTransient(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  if ((error as { transient?: unknown }).transient === true) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || code.length !== 5) return false;
  return (
    code.startsWith('08') || // connection exception
    code.startsWith('40') || // transaction rollback: serialization failure, deadlock
    code.startsWith('53') || // insufficient resources (too many connections, out of memory)
    code === '55P03' || // lock not available
    code === '57014' || // query cancelled (statement timeout)
    code.startsWith('57P') // server shutting down or restarting
  );
}

export class Failures {
  private attempts = 0;
  /** The batch size to read next: the configured one, or 1 while narrowing down a failing event. */
  limit: number;

  constructor(
    private readonly options: { batchSize: number; maxBatchSize?: number; maxAttempts: number; retryBaseMs: number },
    private readonly log: Logger,
    private readonly projection: string,
  ) {
    this.limit = options.batchSize;
  }

  /** The wait before the next try. */
  backoffMs(): number {
    return Math.min(this.options.retryBaseMs * 2 ** Math.min(this.attempts, 6), 5_000);
  }

  /**
   * After a committed batch of `count` events: a full batch means the projection is
   * behind, so the next one may be twice as large, up to maxBatchSize (fewer
   * transactions and statements per event while catching up); a batch that was not
   * full means it is near the head, and the next one is the configured size again.
   */
  succeeded(count?: number): void {
    this.attempts = 0;
    const max = this.options.maxBatchSize ?? this.options.batchSize;
    this.limit =
      count !== undefined && count >= this.limit && this.limit > 1
        ? Math.min(this.limit * 2, Math.max(max, this.options.batchSize))
        : this.options.batchSize;
  }

  /**
   * Records an apply failure on the checkpoint row. 'retry': try again after a backoff;
   * 'stall': the projection is STALLED on it; 'park': the caller parks the event.
   */
  async applyFailed(
    sql: Sql,
    checkpointName: string,
    error: ApplyError,
    policy: FailurePolicy,
  ): Promise<'retry' | 'stall' | 'park'> {
    if (isTransient(error.original)) {
      this.log.warn(
        { err: error.original, projection: this.projection },
        'projection batch hit a passing database condition; retrying',
      );
      return 'retry';
    }
    this.attempts += 1;
    const single = this.limit === 1;
    this.limit = 1;
    const exhausted = single && this.attempts >= this.options.maxAttempts;
    const outcome = exhausted ? (policy === 'park' ? 'park' : 'stall') : 'retry';
    this.log.error(
      {
        err: error.original,
        projection: this.projection,
        attempt: this.attempts,
        txId: String(error.at.txId),
        seq: String(error.at.seq),
        stalled: outcome === 'stall',
      },
      {
        park: 'projection cannot apply an event; parking it',
        stall: 'projection stalled',
        retry: 'projection failed to apply an event; retrying',
      }[outcome],
    );
    // A parked event's error goes with it (parking.ts), not on the checkpoint row.
    if (outcome === 'park') return outcome;
    await recordFailure(sql, checkpointName, error.message, single ? error.at : null, outcome === 'stall');
    if (outcome === 'stall') this.succeeded();
    return outcome;
  }
}
