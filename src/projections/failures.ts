// A runner's failures. A lost connection or a restarting database applied nothing: the
// batch is retried after a backoff. A projection that throws is narrowed down to the one
// event that fails (batches of 1), so STALLED names it exactly; after maxAttempts on that
// event the projection stalls (it never skips an event by itself).
import type { Logger } from 'pino';
import type { Sql } from '../db/sql.ts';
import type { ApplyError } from './batch.ts';
import { recordFailure } from './checkpoints.ts';

export class Failures {
  private attempts = 0;
  /** The batch size to read next: the configured one, or 1 while narrowing down a failing event. */
  limit: number;

  constructor(
    private readonly options: { batchSize: number; maxAttempts: number; retryBaseMs: number },
    private readonly log: Logger,
    private readonly projection: string,
  ) {
    this.limit = options.batchSize;
  }

  /** The wait before the next try. */
  backoffMs(): number {
    return Math.min(this.options.retryBaseMs * 2 ** Math.min(this.attempts, 6), 5_000);
  }

  succeeded(): void {
    this.attempts = 0;
    this.limit = this.options.batchSize;
  }

  /** Records an apply failure on the checkpoint row; true when the projection stalls on it. */
  async applyFailed(sql: Sql, checkpointName: string, error: ApplyError): Promise<boolean> {
    this.attempts += 1;
    const single = this.limit === 1;
    this.limit = 1;
    const stall = single && this.attempts >= this.options.maxAttempts;
    this.log.error(
      {
        err: error.original,
        projection: this.projection,
        attempt: this.attempts,
        txId: String(error.at.txId),
        seq: String(error.at.seq),
        stalled: stall,
      },
      stall ? 'projection stalled' : 'projection failed to apply an event; retrying',
    );
    await recordFailure(sql, checkpointName, error.message, single ? error.at : null, stall);
    if (stall) this.succeeded();
    return stall;
  }
}
